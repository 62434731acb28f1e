"""Stem ZIPs: entries become safe stem names; corrupt or empty archives are retryable errors."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from audiobatch.elevenlabs.stems import open_stems, read_entry, stem_name
from audiobatch.errors import ApiTransportError


def make_zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("entry", "stem"),
    [
        ("vocals.mp3", "vocals"),
        ("stems/Drums.mp3", "drums"),
        ("../../etc/bass.mp3", "bass"),
        ("/abs/path/piano.wav", "piano"),
        ("C:\\x\\guitar.mp3", "guitar"),
        ("song_instrumental.mp3", "instrumental"),
        ("background.mp3", "instrumental"),
        ("../../../weird name!.mp3", "weird_name"),
        ("folder/", None),
    ],
)
def test_entry_names_become_safe_stem_names(entry: str, stem: str | None) -> None:
    assert stem_name(entry) == stem


def test_stems_are_listed_and_read_back(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "s.zip", {"vocals.mp3": b"v" * 3000, "../other.mp3": b"o"}, links=("bass.mp3",)
    )
    with open_stems(path) as (archive, entries):
        assert [e.stem for e in entries] == ["vocals", "other"]
        assert b"".join(read_entry(archive, entries[0].entry, chunk_bytes=100)) == b"v" * 3000


def test_a_zip_that_does_not_open_is_retryable(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(ApiTransportError, match="does not open"), open_stems(path):
        pass


def test_a_zip_with_no_stems_is_retryable(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "empty.zip", {"dir/": b""}, links=("vocals.mp3",))
    with pytest.raises(ApiTransportError, match="no stem"), open_stems(path):
        pass


def test_a_corrupt_entry_is_retryable(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "c.zip", {"vocals.mp3": b"x" * 5000})
    raw = bytearray(path.read_bytes())
    raw[60:70] = b"\xff" * 10  # damage the stored data: the CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(ApiTransportError), open_stems(path) as (archive, entries):
        b"".join(read_entry(archive, entries[0].entry))
