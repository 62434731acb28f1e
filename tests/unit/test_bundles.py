"""Bundles unpack within their limits; hostile members are refused before anything is written."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from audiobatch.errors import ManifestError
from audiobatch.manifest.bundle import MIB, BundleLimits, unpack_bundle

MANIFEST = b"batch: b\njobs: []\n"


def bundle(*members: tuple[str | zipfile.ZipInfo, bytes]) -> io.BytesIO:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members:
            zipped.writestr(name, data)
    raw.seek(0)
    return raw


def refusal(archive: io.BytesIO, folder: Path, limits: BundleLimits | None = None) -> str:
    with pytest.raises(ManifestError) as raised:
        unpack_bundle(archive, "show.zip", folder, limits or BundleLimits())
    assert not any(path.is_file() for path in folder.rglob("*"))  # refused before writing
    return str(raised.value)


def link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def test_a_bundle_unpacks_its_manifest_and_audio_into_its_folder(tmp_path: Path) -> None:
    archive = bundle(("manifest.yaml", MANIFEST), ("audio/take.mp3", b"\xff\xfb" * 100))
    assert unpack_bundle(archive, "show.zip", tmp_path, BundleLimits()) == (
        tmp_path / "manifest.yaml"
    )
    assert (tmp_path / "audio" / "take.mp3").read_bytes() == b"\xff\xfb" * 100


@pytest.mark.parametrize(
    "name",
    ["../escape.mp3", "audio/../../escape.mp3", "/etc/cron.d/job", "C:/x.mp3", "a\\..\\b.mp3"],
)
def test_members_that_climb_out_or_are_absolute_are_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    message = refusal(bundle(("manifest.yaml", MANIFEST), (name, b"x")), folder)
    assert "member names must be relative paths" in message
    assert not (tmp_path / "escape.mp3").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    message = refusal(
        bundle(("manifest.yaml", MANIFEST), link("take.mp3", "/etc/passwd")), tmp_path
    )
    assert "take.mp3: links are not unpacked" in message


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    message = refusal(bundle(("manifest.yaml", MANIFEST), ("big.mp3", bytes(50 * MIB))), tmp_path)
    assert "big.mp3: inflates" in message and "a ZIP bomb" in message


def test_the_caps_on_files_sizes_and_totals_hold(tmp_path: Path) -> None:
    many = bundle(("manifest.yaml", MANIFEST), *((f"{n}.mp3", b"x") for n in range(5)))
    assert "holds 6 files; at most 3" in refusal(many, tmp_path, BundleLimits(max_files=3))
    big = bundle(("manifest.yaml", MANIFEST), ("take.mp3", b"x" * 5000))
    assert "beyond 4096 bytes" in refusal(big, tmp_path, BundleLimits(max_file_bytes=4096))
    total = bundle(("manifest.yaml", MANIFEST), ("a.mp3", b"x" * 3000), ("b.mp3", b"y" * 3000))
    assert "more than 5000 bytes" in refusal(total, tmp_path, BundleLimits(max_bytes=5000))


def test_a_bundle_needs_exactly_one_manifest_at_its_top(tmp_path: Path) -> None:
    assert "found none" in refusal(bundle(("show/manifest.yaml", MANIFEST)), tmp_path)
    two = bundle(("a.yaml", MANIFEST), ("b.json", b"{}"))
    assert "found a.yaml, b.json" in refusal(two, tmp_path)


def test_what_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    assert "not a readable ZIP" in refusal(io.BytesIO(b"batch: x\n"), tmp_path)
