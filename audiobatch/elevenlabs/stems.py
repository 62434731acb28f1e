"""Reading the ZIP of /v1/music/stem-separation: one entry per stem, names made safe.

Entry names are reduced to a stem name (``vocals``, ``drums``, ...) found by substring, as the
exact names are not documented; paths, ``..``, absolute names and links never reach storage.
A ZIP that does not open, or holds no stem, is an :class:`ApiTransportError` (retried).
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audiobatch.errors import ApiTransportError

STEM_NAMES = ("vocals", "drums", "bass", "guitar", "piano", "other", "instrumental")
ALIASES = {"background": "instrumental", "accompaniment": "instrumental", "music": "instrumental"}


@dataclass(frozen=True)
class StemEntry:
    stem: str  # a safe name: one of STEM_NAMES, or a sanitised name for anything unexpected
    entry: zipfile.ZipInfo


def stem_name(entry_name: str) -> str | None:
    """The stem an entry holds, judged by its file name; None for folders and empty names."""
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
    safe = re.sub(r"[^a-z0-9_-]+", "_", stem).strip("_.")
    return safe or None


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


@contextmanager
def open_stems(path: Path) -> Iterator[tuple[zipfile.ZipFile, list[StemEntry]]]:
    """Open the stored ZIP and list its stems (links and folders are skipped, names deduplicated)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ApiTransportError(f"the stems ZIP does not open: {exc}") from exc
    with archive:
        entries: list[StemEntry] = []
        seen: set[str] = set()
        for info in archive.infolist():
            if info.is_dir() or _is_link(info):
                continue
            stem = stem_name(info.filename)
            if stem is None or stem in seen:
                continue
            seen.add(stem)
            entries.append(StemEntry(stem=stem, entry=info))
        if not entries:
            raise ApiTransportError("the stems ZIP holds no stem")
        yield archive, entries


def read_entry(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, chunk_bytes: int = 1 << 20
) -> Iterator[bytes]:
    """An entry's bytes, streamed; a corrupt entry (bad CRC, truncated) is an ApiTransportError."""
    try:
        handle: IO[bytes]
        with archive.open(entry) as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ApiTransportError(f"stems ZIP entry {entry.filename!r} is corrupt: {exc}") from exc
