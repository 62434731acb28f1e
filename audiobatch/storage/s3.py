"""Storage in S3 or any S3-compatible store (MinIO, R2, moto) through boto3.

Objects below one part are sent with one PutObject; larger ones as a multipart upload holding one
part in memory at a time, completed at the end and aborted on any error, so an object is either
whole or absent. A create-only write sends ``If-None-Match: *`` with the PutObject or with the
CompleteMultipartUpload, so S3 refuses it (412) where the key holds an object.

botocore errors are translated here, in :meth:`S3Storage._translate`: a slow, throttling or
unreachable store is an outage (:class:`StorageUnavailableError`, waited out); a bucket that does
not exist, credentials or permissions refused, a key or bucket name S3 will never take are
permanent (:class:`StoragePermanentError`, the job fails saying what to fix).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from audiobatch.errors import (
    NotFoundError,
    StorageConflictError,
    StorageError,
    StoragePermanentError,
    StorageUnavailableError,
)
from audiobatch.storage.base import HashingReader, Storage, StoredObject, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_BYTES = 8 * 1024 * 1024
UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
CREDENTIALS_HINT = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL)"
# S3 error code -> what the user should change
PERMANENT_CODES = {
    "NoSuchBucket": "the bucket does not exist: create it, or fix AUDIOBATCH_STORAGE_URL",
    "InvalidBucketName": "S3 refuses the bucket name: fix AUDIOBATCH_STORAGE_URL",
    "AccessDenied": "access denied: grant these credentials s3:GetObject, s3:PutObject, "
    "s3:DeleteObject and s3:ListBucket on the bucket",
    "403": "access denied: grant these credentials access to the bucket, or " + CREDENTIALS_HINT,
    "AllAccessDisabled": "all access to the bucket is disabled: use another bucket",
    "InvalidAccessKeyId": "the store does not know the access key: " + CREDENTIALS_HINT,
    "SignatureDoesNotMatch": "the secret key is wrong: " + CREDENTIALS_HINT,
    "KeyTooLongError": "the key is too long (S3 takes 1,024 bytes): use a shorter batch name, "
    "job id or storage prefix",
    "PermanentRedirect": "the bucket is in another region: set AWS_DEFAULT_REGION to it",
    "AuthorizationHeaderMalformed": "the region is wrong: set AWS_DEFAULT_REGION to the bucket's",
}


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        public_endpoint: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint_url = endpoint_url
        self._public_endpoint = public_endpoint
        self._client: S3Client | None = None
        self._client_made = threading.Lock()

    @property
    def client(self) -> S3Client:
        """Made on first use, so a forked worker never shares its parent's connections; made
        once, and shared by a worker's threads (botocore's clients are thread-safe): building one
        loads the service's model, half a second of CPU under the GIL, and a worker's threads all
        store their first answers at the same moment."""
        if self._client is None:
            with self._client_made:
                if self._client is None:
                    self._client = _client(self._endpoint_url)
        return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def write(
        self, key: str, chunks: Iterable[bytes], content_type: str, *, exclusive: bool = False
    ) -> StoredObject:
        full = self._key(key)
        only_new = {"IfNoneMatch": "*"} if exclusive else {}
        hashing = HashingReader()
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                buffer += hashing.update(chunk)
                if len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        upload_id = self._call(
                            self.client.create_multipart_upload,
                            Bucket=self.bucket,
                            Key=full,
                            ContentType=content_type,
                        )["UploadId"]
                    parts.append(self._upload_part(full, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                self._call(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=full,
                    Body=bytes(buffer),
                    ContentType=content_type,
                    **only_new,
                )
            else:
                if buffer:
                    parts.append(self._upload_part(full, upload_id, len(parts) + 1, bytes(buffer)))
                self._call(
                    self.client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **only_new,
                )
        except BaseException:
            if upload_id is not None:
                self._abort(full, upload_id)
            raise
        return StoredObject(key, self.uri(key), hashing.bytes, hashing.sha256, content_type)

    def _upload_part(self, full: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self._call(
            self.client.upload_part,
            Bucket=self.bucket,
            Key=full,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _abort(self, full: str, upload_id: str) -> None:
        # if this fails too, housekeeping aborts the stale upload later (remove_leftovers)
        with suppress(BotoCoreError, ClientError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)

    def read(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        full = self._key(key)
        answer = self._call(self.client.get_object, Bucket=self.bucket, Key=full)
        body = answer["Body"]
        try:
            while True:
                try:
                    chunk = body.read(chunk_bytes)
                except (BotoCoreError, ClientError) as exc:
                    raise self._translate(exc, full) from exc
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def size(self, key: str) -> int | None:
        full = self._key(key)
        try:
            return int(
                self._call(self.client.head_object, Bucket=self.bucket, Key=full)["ContentLength"]
            )
        except NotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str) -> Iterator[str]:
        folder = self._key(prefix) + "/"
        root = len(self._key(prefix)) - len(prefix)  # the store's own prefix and its slash
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][root:]
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc, folder) from exc

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        # signing needs no connection: a client for the public address only signs
        signer = self.client if self._public_endpoint is None else _client(self._public_endpoint)
        return str(
            signer.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=expires_s,
            )
        )

    def remove_leftovers(self, older_than_s: float) -> int:
        # the leftovers of S3 writers are multipart uploads never completed nor aborted
        cutoff = time.time() - older_than_s
        listing = self._call(
            self.client.list_multipart_uploads, Bucket=self.bucket, Prefix=self.prefix
        )
        aborted = 0
        for upload in listing.get("Uploads", []):
            if upload["Initiated"].timestamp() < cutoff:
                self._abort(upload["Key"], upload["UploadId"])
                aborted += 1
        return aborted

    def _call(self, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc, kwargs.get("Key", "")) from exc

    def _translate(
        self, exc: BotoCoreError | ClientError, full: str
    ) -> StorageError | NotFoundError:
        where = f"s3://{self.bucket}/{full}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in NOT_FOUND_CODES:
                return NotFoundError(f"{where} does not exist")
            if code in CONFLICT_CODES:
                return StorageConflictError(f"{where} already exists: another writer stored it")
            if code in PERMANENT_CODES:
                return StoragePermanentError(f"{where}: {code}: {PERMANENT_CODES[code]}")
            if code in UNAVAILABLE_CODES or status >= 500:
                return StorageUnavailableError(f"{where}: the store is unavailable ({code})")
            return StorageError(f"{where}: {code or status}: {error.get('Message', exc)}")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StoragePermanentError(f"{where}: no usable credentials: {CREDENTIALS_HINT}")
        if isinstance(exc, ParamValidationError):
            return StoragePermanentError(f"{where}: S3 would refuse the request: {exc}")
        return StorageUnavailableError(f"{where}: cannot reach the store: {exc}")


MAX_POOL_CONNECTIONS = 64
"""Connections a client keeps open to the store, so each of a worker's threads (up to 64) reuses
one: botocore's default keeps 10 and closes the others after each request."""


def _client(endpoint_url: str | None) -> S3Client:
    config = Config(
        max_pool_connections=MAX_POOL_CONNECTIONS,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
