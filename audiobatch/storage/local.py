"""Storage in a local folder: temp file, fsync, rename, so a reader never sees half an object."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from audiobatch.errors import NotFoundError, StorageError, StorageUnavailableError
from audiobatch.storage.base import HashingReader, Storage, StoredObject, check_key

PARTIAL_SUFFIX = ".partial"


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        target = self._path(key)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
        hashing = HashingReader()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as handle:
                for chunk in chunks:
                    handle.write(hashing.update(chunk))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except OSError as exc:
            with suppress(OSError):  # the folder itself may be what is unreachable
                temp.unlink(missing_ok=True)
            raise StorageUnavailableError(f"cannot write {target}: {exc}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredObject(key, target.as_uri(), hashing.bytes, hashing.sha256, content_type)

    def read(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError as exc:
            raise NotFoundError(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise StorageUnavailableError(f"cannot read {path}: {exc}") from exc
        with handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc}") from exc

    def remove_leftovers(self, older_than_s: float) -> int:
        # the leftovers of local writers are their temporary ``.partial`` files
        if not self.root.exists():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.rglob(f"*{PARTIAL_SUFFIX}"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
