"""Object storage: a local folder (the embedded default) or S3 and S3-compatible stores."""

from __future__ import annotations

from pathlib import Path

from audiobatch.errors import ConfigError
from audiobatch.storage.base import Storage, StoredObject
from audiobatch.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StoredObject", "open_storage"]


def open_storage(url: str, public_endpoint: str | None = None) -> Storage:
    """``file://./renders``, ``file:///abs``, a plain path, or ``s3://bucket/optional/prefix``
    (its presigned URLs signed for ``public_endpoint``, where browsers reach the store)."""
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"storage URL {url!r} names no bucket: use s3://bucket/prefix")
        from audiobatch.storage.s3 import S3Storage  # boto3 loads only where S3 is used

        return S3Storage(bucket, prefix, public_endpoint=public_endpoint)
    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    if "://" in url:
        raise ConfigError(f"unsupported storage URL {url!r}: use file://PATH or s3://bucket/prefix")
    return LocalStorage(Path(url))
