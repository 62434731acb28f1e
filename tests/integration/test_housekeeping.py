"""Housekeeping removes what writers that died left in storage, and only that."""

from __future__ import annotations

import os
import time
from pathlib import Path

from audiobatch.config import Settings
from audiobatch.worker.runtime import LEFTOVER_AGE_S, build_housekeeper


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

    housekeeper = build_housekeeper(Settings(storage_url=f"file://{tmp_path / 'renders'}"))
    assert housekeeper() == 1
    assert sorted(p.name for p in folder.iterdir()) == [young.name, output.name]


def test_stale_answer_spools_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    from audiobatch.elevenlabs.spool import remove_stale

    old, fresh = tmp_path / "b1-1", tmp_path / "b1-2"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "answer.body").write_bytes(b"x")
    long_ago = time.time() - LEFTOVER_AGE_S - 60
    os.utime(old, (long_ago, long_ago))
    assert remove_stale(tmp_path, LEFTOVER_AGE_S) == 1
    assert [p.name for p in tmp_path.iterdir()] == [fresh.name]
