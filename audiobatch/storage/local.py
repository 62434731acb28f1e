"""Storage in a local folder: temp file, fsync, then a rename (or a hard link for a create-only
write, which fails where the name exists), so a reader never sees half an object. A key read
through a symbolic link that leads out of the folder is absent: nothing outside the root is
ever read or served.

OS errors are translated here, in :func:`translate`: those a later try may get past (an
unreachable network mount, an I/O error) as :class:`StorageUnavailableError`, those that need
someone to change something (a name too long, no permission, a read-only or full file system, a
file where a folder should be) as :class:`StoragePermanentError` saying what to change. A full
file system counts as permanent: nothing in audiobatch frees space by itself, and jobs waiting
for it without end would hide the problem instead of reporting it.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from audiobatch.errors import (
    NotFoundError,
    StorageConflictError,
    StorageError,
    StoragePermanentError,
    StorageUnavailableError,
)
from audiobatch.storage.base import HashingReader, Storage, StoredObject, check_key

PARTIAL_SUFFIX = ".partial"
# errno -> what the user should change; every other OSError may pass on a later try
PERMANENT_ERRNOS = {
    errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter batch name or "
    "job id, or a storage folder with a shorter path",
    errno.EACCES: "no permission: give the worker's user write access to the storage folder, "
    "or set AUDIOBATCH_STORAGE_URL to a folder it may write",
    errno.EPERM: "not permitted (no permission, or a file system without hard links): make the "
    "storage folder writable on a file system with hard links",
    errno.EROFS: "the file system is read-only: mount it writable, or set "
    "AUDIOBATCH_STORAGE_URL to another folder",
    errno.ENOSPC: "no space left on the device: free space, then `audiobatch retry BATCH`",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota, then "
    "`audiobatch retry BATCH`",
    errno.ENOTDIR: "a part of the path is a file, not a folder: move that file away",
    errno.EEXIST: "a part of the path is a file, not a folder: move that file away",
    errno.EISDIR: "the name is taken by a folder: move that folder away",
}


def translate(exc: OSError, path: Path, doing: str) -> StorageError:
    """The storage error for ``exc``, met while ``doing`` (a verb) ``path``."""
    hint = PERMANENT_ERRNOS.get(exc.errno or 0)
    if hint is not None:
        return StoragePermanentError(f"cannot {doing} {path}: {exc.strerror}; {hint}")
    return StorageUnavailableError(f"cannot {doing} {path}: {exc}")


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def _inside(self, key: str) -> Path:
        """The key's file with every link resolved, if it stays under the root."""
        path = self._path(key).resolve()
        if not path.is_relative_to(self.root):
            raise NotFoundError(f"no object {key!r} in {self.root} (a link leads out of it)")
        return path

    def local_path(self, key: str) -> Path | None:
        return self._inside(key)

    def write(
        self, key: str, chunks: Iterable[bytes], content_type: str, *, exclusive: bool = False
    ) -> StoredObject:
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
            if exclusive:
                _link(temp, target)
            else:
                os.replace(temp, target)
        except OSError as exc:
            with suppress(OSError):  # the folder itself may be what is unreachable
                temp.unlink(missing_ok=True)
            raise translate(exc, target, "write") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredObject(key, target.as_uri(), hashing.bytes, hashing.sha256, content_type)

    def read(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        path = self._inside(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError as exc:
            raise NotFoundError(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise translate(exc, path, "read") from exc
        with handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def size(self, key: str) -> int | None:
        try:
            path = self._inside(key)
        except NotFoundError:
            return None
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise translate(exc, path, "delete") from exc

    def keys(self, prefix: str) -> Iterator[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.endswith(PARTIAL_SUFFIX):
                yield path.relative_to(self.root).as_posix()

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


def _link(temp: Path, target: Path) -> None:
    """Give the complete ``temp`` the name ``target`` only if no file has it yet."""
    try:
        os.link(temp, target)
    except FileExistsError as exc:
        raise StorageConflictError(f"{target} already exists: another writer stored it") from exc
    with suppress(OSError):  # a name left behind is a leftover housekeeping removes
        temp.unlink()
