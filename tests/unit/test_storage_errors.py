"""Storage errors are told apart at the boundary: an outage is waited out, a refusal for good
fails the job, a create-only write in the way of another is a conflict."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from audiobatch.errors import (
    AudiobatchError,
    NotFoundError,
    StorageConflictError,
    StoragePermanentError,
    StorageUnavailableError,
)
from audiobatch.storage.local import translate
from audiobatch.storage.s3 import S3Storage


def client_error(code: str, status: int) -> ClientError:
    answer = {
        "Error": {"Code": code, "Message": "..."},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(answer, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("SlowDown", 503, StorageUnavailableError),
        ("ServiceUnavailable", 503, StorageUnavailableError),
        ("InternalError", 500, StorageUnavailableError),
        ("RequestTimeout", 400, StorageUnavailableError),
        ("Throttling", 400, StorageUnavailableError),
        ("NoSuchBucket", 404, StoragePermanentError),
        ("AccessDenied", 403, StoragePermanentError),
        ("403", 403, StoragePermanentError),  # HEAD answers carry no body, only the status
        ("InvalidAccessKeyId", 403, StoragePermanentError),
        ("SignatureDoesNotMatch", 403, StoragePermanentError),
        ("KeyTooLongError", 400, StoragePermanentError),
        ("InvalidBucketName", 400, StoragePermanentError),
        ("PreconditionFailed", 412, StorageConflictError),
        ("ConditionalRequestConflict", 409, StorageConflictError),
        ("NoSuchKey", 404, NotFoundError),
    ],
)
def test_s3_errors_are_classified_by_their_code(
    code: str, status: int, kind: type[AudiobatchError]
) -> None:
    error = S3Storage("shows", "renders")._translate(client_error(code, status), "renders/a/b")
    assert type(error) is kind
    assert "s3://shows/renders/a/b" in str(error)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (EndpointConnectionError(endpoint_url="http://s3"), StorageUnavailableError),
        (ReadTimeoutError(endpoint_url="http://s3"), StorageUnavailableError),
        (NoCredentialsError(), StoragePermanentError),
    ],
)
def test_s3_transport_errors_are_outages_but_missing_credentials_are_not(
    exc: Exception, kind: type[AudiobatchError]
) -> None:
    assert type(S3Storage("shows")._translate(exc, "a/b")) is kind  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "kind", "hint"),
    [
        (errno.ENAMETOOLONG, StoragePermanentError, "too long"),
        (errno.EACCES, StoragePermanentError, "write access"),
        (errno.EPERM, StoragePermanentError, "not permitted"),
        (errno.EROFS, StoragePermanentError, "read-only"),
        (errno.ENOSPC, StoragePermanentError, "free space"),
        (errno.ENOTDIR, StoragePermanentError, "is a file"),
        (errno.EIO, StorageUnavailableError, "Input/output"),
        (errno.ETIMEDOUT, StorageUnavailableError, "timed out"),
        (errno.ESTALE, StorageUnavailableError, "Stale"),
    ],
)
def test_os_errors_are_classified_by_their_errno(
    number: int, kind: type[AudiobatchError], hint: str
) -> None:
    error = translate(OSError(number, os.strerror(number)), Path("/r/a"), "write")
    assert type(error) is kind
    assert "cannot write /r/a" in str(error) and hint in str(error)
