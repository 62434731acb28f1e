"""Storage in S3 or any S3-compatible store (MinIO, R2, moto) through boto3.

Objects below one part are sent with one PutObject; larger ones as a multipart upload holding one
part in memory at a time, completed at the end and aborted on any error, so an object is either
whole or absent. botocore errors are translated here into audiobatch's storage errors.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from audiobatch.errors import NotFoundError, StorageError, StorageUnavailableError
from audiobatch.storage.base import HashingReader, Storage, StoredObject, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_BYTES = 8 * 1024 * 1024
UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint_url = endpoint_url
        self._client: S3Client | None = None

    @property
    def client(self) -> S3Client:
        """Made on first use, so a forked worker never shares its parent's connections."""
        if self._client is None:
            config = Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            )
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self._endpoint_url, config=config
            )
        return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        full = self._key(key)
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

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return str(
            self.client.generate_presigned_url(
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
            if code == "NoSuchBucket":
                return StorageError(f"bucket {self.bucket!r} does not exist: create it first")
            if code in UNAVAILABLE_CODES or status >= 500:
                return StorageUnavailableError(f"{where}: the store is unavailable ({code})")
            return StorageError(f"{where}: {code or status}: {error.get('Message', exc)}")
        return StorageUnavailableError(f"{where}: cannot reach the store: {exc}")
