"""The storage contract: streamed, hashed, atomic writes of objects under relative keys."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from audiobatch.errors import StorageError, StorageIntegrityError


@dataclass(frozen=True)
class StoredObject:
    """An object as written: where it is, how big, and its sha256."""

    key: str
    uri: str
    bytes: int
    sha256: str
    content_type: str


class Storage(ABC):
    """Where outputs live. Keys are relative, '/'-separated, and cannot leave the root."""

    @abstractmethod
    def write(
        self, key: str, chunks: Iterable[bytes], content_type: str, *, exclusive: bool = False
    ) -> StoredObject:
        """Stream ``chunks`` to ``key``; the object appears only once complete.

        ``exclusive`` makes the write create-only: it raises StorageConflictError, and leaves
        the object there untouched, if ``key`` holds an object when the write completes.
        If the iterator raises, its exception propagates and nothing is left behind.
        """

    @abstractmethod
    def read(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The object's bytes, streamed; NotFoundError when absent."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size, or None when absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; absent is fine."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def keys(self, prefix: str) -> Iterator[str]:
        """The key of every complete object under the folder ``prefix``, in key order."""

    @abstractmethod
    def remove_leftovers(self, older_than_s: float) -> int:
        """Remove what writers that died mid-write left behind, if older than ``older_than_s``
        (younger ones may belong to writers still at work); how many were removed."""

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        """A time-limited download URL, where the store has such a thing."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine, where it is a local file."""
        return None

    def measure(self, key: str) -> tuple[int, str]:
        """Read the object through once, streaming: its size and sha256."""
        hashing = HashingReader()
        for chunk in self.read(key):
            hashing.update(chunk)
        return hashing.bytes, hashing.sha256

    def verify(self, obj: StoredObject) -> None:
        """Read the object back and check its size and sha256."""
        size, sha256 = self.measure(obj.key)
        if size != obj.bytes or sha256 != obj.sha256:
            raise StorageIntegrityError(
                f"{obj.uri}: stored {size} bytes (sha256 {sha256[:12]}), "
                f"expected {obj.bytes} bytes (sha256 {obj.sha256[:12]})"
            )


def check_key(key: str) -> str:
    """Refuse keys that could leave the storage root."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"invalid storage key {key!r}: relative, '/'-separated, no '..'")
    return key


class HashingReader:
    """Counts and hashes bytes as they pass."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.bytes = 0

    def update(self, chunk: bytes) -> bytes:
        self.digest.update(chunk)
        self.bytes += len(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()
