"""Bundles: a ZIP holding a manifest and the audio files its local sources name, unpacked within
limits into a folder of its own, which becomes the manifest's only source root.

The manifest is the one file at the bundle's top level with a manifest extension (``.yaml``,
``.yml``, ``.json``, ``.jsonl``, ``.csv``); the audio files sit beside it or in folders below it,
named by the manifest relative to it. Every member is checked before anything is written: a name
that is absolute, holds ``..`` or ``.`` segments, a backslash or a drive letter is refused, and
so are links, encrypted members and compression methods other than stored and deflated. The
member count and every size the central directory declares are checked before anything is
inflated; the bytes actually inflated are counted as they come, never trusting the declared
sizes, and stopped at the caps on each file, on the whole bundle and on the compression ratio.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audiobatch.errors import ManifestError, Problem
from audiobatch.manifest.readers import READERS

MIB = 1 << 20
RATIO_GRACE_BYTES = MIB  # smaller files may compress as well as they like (silence does)
INFLATABLE = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class BundleLimits:
    """The most a bundle may hold: files, bytes per file and in all once inflated, and how many
    times its compressed size a file may inflate to (a ZIP bomb is thousands of times smaller
    than what it inflates to, while encoded audio barely compresses)."""

    max_files: int = 1000
    max_file_bytes: int = 256 * MIB
    max_bytes: int = 1024 * MIB
    max_ratio: float = 100.0


def unpack_bundle(archive: IO[bytes], name: str, folder: Path, limits: BundleLimits) -> Path:
    """Unpack the bundle ``archive`` (uploaded as ``name``) into the empty ``folder``; the path
    of its manifest. Raises :class:`ManifestError` naming the bundle and the member at fault."""
    size_bytes = archive.seek(0, 2)
    archive.seek(0)
    if size_bytes > limits.max_bytes:
        raise _refused(name, "", f"larger than {limits.max_bytes} bytes")
    try:
        with zipfile.ZipFile(archive) as zipped:
            files = _checked_members(zipped, name, limits)
            manifest = _manifest_member(files, name)
            inflated = 0
            for info in files:
                inflated = _extract(zipped, info, folder, inflated, name, limits)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
        raise _refused(name, "", f"not a readable ZIP: {exc}") from exc
    return folder / manifest


def remove_bundle(folder: Path) -> None:
    """Remove a bundle's folder (its manifest was refused)."""
    shutil.rmtree(folder, ignore_errors=True)


def _checked_members(
    zipped: zipfile.ZipFile, name: str, limits: BundleLimits
) -> list[zipfile.ZipInfo]:
    """The bundle's files, once every member's name, kind and declared sizes are acceptable."""
    files = [info for info in zipped.infolist() if not info.is_dir()]
    if len(files) > limits.max_files:
        raise _refused(name, "", f"holds {len(files)} files; at most {limits.max_files}")
    problems = [
        Problem(name, None, info.filename, text)
        for info in zipped.infolist()
        if (text := _member_problem(info, limits))
    ]
    seen: set[str] = set()
    for info in files:
        if info.filename in seen:
            problems.append(Problem(name, None, info.filename, "appears twice in the bundle"))
        seen.add(info.filename)
    if problems:
        raise ManifestError(problems)
    declared = sum(info.file_size for info in files)
    if declared > limits.max_bytes:
        raise _refused(name, "", f"inflates to more than {limits.max_bytes} bytes in all")
    return files


def _member_problem(info: zipfile.ZipInfo, limits: BundleLimits) -> str | None:
    member = info.filename
    segments = member.rstrip("/").split("/") if info.is_dir() else member.split("/")
    if (
        member.startswith("/")
        or _DRIVE.match(member)
        or "\\" in member
        or "\x00" in member
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        return "member names must be relative paths without '..', '.' or backslashes"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "links are not unpacked: put the file itself in the bundle"
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        return "encrypted members are not unpacked"
    if info.compress_type not in INFLATABLE:
        return (
            f"compression method {info.compress_type} is not unpacked "
            "(only stored and deflated members are)"
        )
    return _size_problem(info.file_size, info.compress_size, limits)


def _size_problem(size_bytes: int, compressed_bytes: int, limits: BundleLimits) -> str | None:
    if size_bytes > limits.max_file_bytes:
        return f"inflates beyond {limits.max_file_bytes} bytes"
    ratio = size_bytes / max(compressed_bytes, 1)
    if size_bytes > RATIO_GRACE_BYTES and ratio > limits.max_ratio:
        return (
            f"inflates {ratio:.0f} times its compressed size (at most {limits.max_ratio:g}): "
            "a ZIP bomb"
        )
    return None


def _manifest_member(files: list[zipfile.ZipInfo], name: str) -> str:
    found = [
        info.filename
        for info in files
        if "/" not in info.filename and Path(info.filename).suffix.lower() in READERS
    ]
    if len(found) != 1:
        kinds = ", ".join(READERS)
        seen = f"found {', '.join(found)}" if found else "found none"
        raise _refused(name, "", f"a bundle holds one manifest ({kinds}) at its top level; {seen}")
    return found[0]


def _extract(
    zipped: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    folder: Path,
    inflated: int,
    name: str,
    limits: BundleLimits,
) -> int:
    """Write one member under ``folder``, counting what it inflates to; the bundle's total."""
    target = folder.joinpath(*info.filename.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zipped.open(info) as source, open(target, "xb") as handle:
        while chunk := source.read(MIB):
            written += len(chunk)
            inflated += len(chunk)
            problem = _size_problem(written, info.compress_size, limits)
            if problem is None and inflated > limits.max_bytes:
                problem = f"the bundle inflates to more than {limits.max_bytes} bytes in all"
            if problem is not None:
                raise _refused(name, info.filename, problem)
            handle.write(chunk)
    return inflated


def _refused(name: str, member: str, text: str) -> ManifestError:
    return ManifestError([Problem(name, None, member, text)])
