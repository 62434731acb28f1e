"""Stem ZIPs: entries become stem names, others are left out; corrupt or empty archives are
retryable errors; whatever would inflate beyond the caps is refused for good."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from audiobatch.elevenlabs.limits import AnswerLimits
from audiobatch.elevenlabs.stems import open_stems, stem_name
from audiobatch.errors import AnswerTooLargeError, ApiTransportError, FatalApiError

LIMITS = AnswerLimits()


def make_zip(
    path: Path,
    entries: dict[str, bytes],
    links: tuple[str, ...] = (),
    method: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
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
        ("../../../weird name!.mp3", None),
        ("readme.txt", None),
        ("folder/", None),
    ],
)
def test_entry_names_become_stem_names_or_nothing(entry: str, stem: str | None) -> None:
    assert stem_name(entry) == stem


def test_stems_are_listed_and_read_back_and_the_rest_is_left_out(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "s.zip",
        {"vocals.mp3": b"v" * 3000, "../other.mp3": b"o", "notes.txt": b"hi", "x/vocals.mp3": b""},
        links=("bass.mp3",),
    )
    with open_stems(path, LIMITS) as stems:
        assert [e.stem for e in stems.entries] == ["vocals", "other"]
        assert stems.ignored == ["notes.txt", "x/vocals.mp3", "bass.mp3"]
        assert b"".join(stems.read_entry(stems.entries[0], chunk_bytes=100)) == b"v" * 3000


def test_a_zip_that_does_not_open_is_retryable(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(ApiTransportError, match="does not open"), open_stems(path, LIMITS):
        pass


def test_a_zip_with_no_stems_is_retryable(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "empty.zip", {"dir/": b"", "junk.bin": b"x"}, links=("vocals.mp3",))
    with pytest.raises(ApiTransportError, match="no stem"), open_stems(path, LIMITS):
        pass


def test_a_corrupt_entry_is_retryable(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "c.zip", {"vocals.mp3": b"x" * 5000})
    raw = bytearray(path.read_bytes())
    raw[60:70] = b"\xff" * 10  # damage the stored data: the CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(ApiTransportError), open_stems(path, LIMITS) as stems:
        b"".join(stems.read_entry(stems.entries[0]))


def test_a_bomb_is_refused_for_good_before_anything_inflates(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bomb.zip", {"vocals.mp3": bytes(50 << 20)})
    assert path.stat().st_size < 100_000  # 50 MiB of zeros from a few tens of KB
    with pytest.raises(AnswerTooLargeError, match="ZIP bomb"), open_stems(path, LIMITS):
        pass


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (AnswerLimits(max_stem_bytes=2000), "beyond 2000 bytes"),
        (AnswerLimits(max_stems_bytes=5000), "beyond 5000 bytes in all"),
        (AnswerLimits(max_zip_entries=1), "holds 2 entries"),
    ],
)
def test_each_cap_is_held(tmp_path: Path, limits: AnswerLimits, reason: str) -> None:
    path = make_zip(tmp_path / "s.zip", {"vocals.mp3": b"v" * 3000, "drums.mp3": b"d" * 3000})
    with pytest.raises(AnswerTooLargeError, match=reason), open_stems(path, limits):
        pass


def test_the_bytes_inflated_are_counted_as_they_come(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "s.zip", {"vocals.mp3": b"v" * 3000, "drums.mp3": b"d" * 3000})
    with open_stems(path, LIMITS) as stems:
        stems.limits = AnswerLimits(max_stems_bytes=5000)  # past the declared sizes' check
        first, second = stems.entries
        assert len(b"".join(stems.read_entry(first, chunk_bytes=100))) == 3000
        with pytest.raises(AnswerTooLargeError, match="beyond 5000 bytes in all"):
            b"".join(stems.read_entry(second, chunk_bytes=100))


def test_an_entry_compressed_in_a_way_that_cannot_be_bounded_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "b.zip", {"vocals.mp3": b"v" * 100}, method=zipfile.ZIP_BZIP2)
    with pytest.raises(FatalApiError, match="compression method 12"), open_stems(path, LIMITS):
        pass
