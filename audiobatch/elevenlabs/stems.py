"""Reading the ZIP of /v1/music/stem-separation: one entry per stem, unpacked within caps.

Entry names are reduced to a stem name (``vocals``, ``drums``, ...) found by substring, as the
exact names are not documented; an entry that names no expected stem (or one already seen), a
folder or a link is left out and listed in :attr:`Stems.ignored`, so paths, ``..`` and absolute
names never reach storage. A ZIP that does not open, or holds no stem, is an
:class:`ApiTransportError` (retried).

Unpacking is bounded by :class:`AnswerLimits`: the entry count and every size the central directory
declares are checked before anything is inflated, and the bytes actually inflated are counted
as they come (in chunks, never trusting the declared sizes) and stopped at the caps on each
entry, on the whole archive and on the compression ratio. Only stored and deflated entries are
inflated, the methods whose output can be read a chunk at a time. Going past a cap is an
:class:`AnswerTooLargeError`, permanent: the same request brings the same archive.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audiobatch.elevenlabs.limits import AnswerLimits
from audiobatch.errors import AnswerTooLargeError, ApiTransportError, FatalApiError

STEM_NAMES = ("vocals", "drums", "bass", "guitar", "piano", "other", "instrumental")
ALIASES = {"background": "instrumental", "accompaniment": "instrumental", "music": "instrumental"}
RATIO_GRACE_BYTES = 1 << 20  # smaller entries may compress as well as they like (silence does)
INFLATABLE = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@dataclass(frozen=True)
class StemEntry:
    stem: str  # one of STEM_NAMES
    entry: zipfile.ZipInfo


@dataclass
class Stems:
    """An open stems ZIP: the entries to store, and the names of those left out."""

    archive: zipfile.ZipFile
    entries: list[StemEntry]
    ignored: list[str]
    limits: AnswerLimits
    inflated_bytes: int = 0  # by read_entry, from the whole archive

    def read_entry(self, stem: StemEntry, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """An entry's bytes, streamed and counted against the caps; a corrupt entry (bad CRC,
        truncated) is an :class:`ApiTransportError`."""
        info, limits = stem.entry, self.limits
        entry_bytes = 0
        try:
            handle: IO[bytes]
            with self.archive.open(info) as handle:
                while chunk := handle.read(chunk_bytes):
                    entry_bytes += len(chunk)
                    self.inflated_bytes += len(chunk)
                    _check_sizes(info.filename, entry_bytes, info.compress_size, limits)
                    _check_total(self.inflated_bytes, limits)
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ApiTransportError(f"stems ZIP entry {info.filename!r} is corrupt: {exc}") from exc


def stem_name(entry_name: str) -> str | None:
    """The stem an entry holds, judged by its file name; None for names that hold no stem."""
    base = re.split(r"[\\/]", entry_name)[-1]
    stem = base.rsplit(".", 1)[0].lower() if "." in base else base.lower()
    if not stem:
        return None
    for known in STEM_NAMES:
        if known in stem:
            return known
    for alias, known in ALIASES.items():
        if alias in stem:
            return known
    return None


@contextmanager
def open_stems(path: Path, limits: AnswerLimits) -> Iterator[Stems]:
    """Open the ZIP, check what it declares against ``limits``, and list its stems."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ApiTransportError(f"the stems ZIP does not open: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise AnswerTooLargeError(
                f"the stems ZIP holds {len(infos)} entries; at most {limits.max_zip_entries} "
                "are unpacked"
            )
        entries: list[StemEntry] = []
        ignored: list[str] = []
        for info in infos:
            stem = None if info.is_dir() or _is_link(info) else stem_name(info.filename)
            if stem is None or stem in {e.stem for e in entries}:
                ignored.append(info.filename)
                continue
            _check_declared(info, limits)
            entries.append(StemEntry(stem=stem, entry=info))
        if not entries:
            raise ApiTransportError("the stems ZIP holds no stem")
        _check_total(sum(e.entry.file_size for e in entries), limits)
        yield Stems(archive, entries, ignored, limits)


def _check_declared(info: zipfile.ZipInfo, limits: AnswerLimits) -> None:
    if info.compress_type not in INFLATABLE:
        raise FatalApiError(
            f"stems ZIP entry {info.filename!r} uses compression method {info.compress_type}, "
            "which is not unpacked (only stored and deflated entries are)"
        )
    _check_sizes(info.filename, info.file_size, info.compress_size, limits)


def _check_sizes(name: str, size_bytes: int, compressed_bytes: int, limits: AnswerLimits) -> None:
    if size_bytes > limits.max_stem_bytes:
        raise AnswerTooLargeError(
            f"stems ZIP entry {name!r} inflates beyond {limits.max_stem_bytes} bytes"
        )
    ratio = size_bytes / max(compressed_bytes, 1)
    if size_bytes > RATIO_GRACE_BYTES and ratio > limits.max_stem_ratio:
        raise AnswerTooLargeError(
            f"stems ZIP entry {name!r} inflates {ratio:.0f} times its compressed size "
            f"(at most {limits.max_stem_ratio:g}): a ZIP bomb"
        )


def _check_total(size_bytes: int, limits: AnswerLimits) -> None:
    if size_bytes > limits.max_stems_bytes:
        raise AnswerTooLargeError(
            f"the stems ZIP inflates beyond {limits.max_stems_bytes} bytes in all"
        )


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)
