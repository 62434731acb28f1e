"""Housekeeping removes what writers that died left in storage, and only that."""

from __future__ import annotations

import os
import time
from pathlib import Path

from audiobatch.config import Settings
from audiobatch.deployment import LEFTOVER_AGE_S, build_housekeeper


def test_housekeeping_removes_old_partial_writes_and_keeps_young_ones_and_outputs(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "renders" / "demo" / "b1" / "j1"
    folder.mkdir(parents=True)
    output = folder / "audio.mp3"
    old = folder / ".audio.mp3.0000aaaa.partial"
    young = folder / ".audio.mp3.1111bbbb.partial"
    for path in (output, old, young):
        path.write_bytes(b"x")
    long_ago = time.time() - LEFTOVER_AGE_S - 60
    os.utime(old, (long_ago, long_ago))
    os.utime(output, (long_ago, long_ago))

    settings = Settings(storage_url=f"file://{tmp_path / 'renders'}", home=tmp_path / "home")
    assert build_housekeeper(settings)() == 1
    assert sorted(p.name for p in folder.iterdir()) == [young.name, output.name]


def test_housekeeping_removes_this_host_s_stale_answer_spools(tmp_path: Path) -> None:
    spools = tmp_path / "home" / "spool"
    stale, busy = spools / "b1-1", spools / "b1-2"
    for folder in (stale, busy):
        folder.mkdir(parents=True)
        (folder / "answer").write_bytes(b"x")
    long_ago = time.time() - LEFTOVER_AGE_S - 60
    for path in (stale, stale / "answer", busy):  # busy's folder is old, its file is written now
        os.utime(path, (long_ago, long_ago))

    settings = Settings(storage_url=f"file://{tmp_path / 'renders'}", home=tmp_path / "home")
    assert build_housekeeper(settings)() == 1
    assert [p.name for p in spools.iterdir()] == ["b1-2"]
