"""The loudness pass on parts spoken at very different levels (the emulator speaks every voice at
one level: these parts are its synthesis, scaled), measured by the outside meter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from audiobatch.emulator.audio import OutputFormat, Turn, encode, plan, synthesize
from audiobatch.manifest.loudness import LoudnessLevels
from audiobatch.render.loudness import SILENT_LUFS, normalise
from audiobatch.render.stitch import Timeline, joined_frames
from tests import outside_meter

VOICE = "JBFqnCBsd6RMkjVDRZzb"


def parts(folder: Path, output_format: str, levels: list[float]) -> list[Path]:
    """One part a level, each the emulator's speech scaled by it."""
    fmt = OutputFormat.parse(output_format)
    paths = []
    for number, level in enumerate(levels):
        turns = [Turn(VOICE, f"Part {number} says a few words about loudness and batches. " * 2)]
        path = folder / f"part-{number}.{fmt.codec}"
        path.write_bytes(encode(synthesize(turns, plan(turns), fmt.rate_hz) * level, fmt))
        paths.append(path)
    return paths


def stitched(paths: list[Path], output_format: str, pause_ms: int) -> Iterator[av.AudioFrame]:
    return joined_frames(paths, Timeline.of(output_format, pause_ms))


@pytest.mark.parametrize("output_format", ["mp3_44100_128", "opus_48000_64"])
def test_parts_far_apart_in_level_come_out_at_podcast_loudness(
    tmp_path: Path, output_format: str
) -> None:
    paths = parts(tmp_path, output_format, [0.05, 1.6, 0.3])  # about -40, -14 and -24 LUFS
    target = tmp_path / f"episode.{output_format[:4].rstrip('_')}"
    report = normalise(
        lambda: stitched(paths, output_format, 400), output_format, target, "podcast", lambda: None
    )
    assert abs(outside_meter.integrated_lufs(target) - -16.0) <= 1.0
    assert outside_meter.true_peak_db(target) <= -1.0
    assert abs(report.after.integrated_lufs - outside_meter.integrated_lufs(target)) < 0.5
    assert report.gain_db == report.wanted_gain_db and report.notes == []


def test_a_gain_that_would_clip_is_reduced_and_said(tmp_path: Path) -> None:
    fmt = "mp3_44100_128"
    paths = parts(tmp_path, fmt, [1.0])  # peaks at -6.8 dBTP, -19 LUFS
    target = tmp_path / "loud.mp3"
    loudest = LoudnessLevels(integrated_lufs=-9.0, true_peak_db=-1.0)
    report = normalise(lambda: stitched(paths, fmt, 0), fmt, target, loudest, lambda: None)
    assert outside_meter.true_peak_db(target) <= -1.0
    assert outside_meter.integrated_lufs(target) < -12.0  # well short of -9: gain reduced
    assert report.wanted_gain_db - report.gain_db > 3.0
    [note] = report.notes
    assert "which would clip" in note and f"gain reduced to {report.gain_db:+.1f} dB" in note


def test_silence_is_left_as_it_is(tmp_path: Path) -> None:
    fmt = "mp3_44100_128"
    paths = parts(tmp_path, fmt, [0.0])
    report = normalise(
        lambda: stitched(paths, fmt, 0), fmt, tmp_path / "quiet.mp3", "podcast", lambda: None
    )
    assert report.gain_db == 0.0 and report.before.integrated_lufs == SILENT_LUFS
    assert report.notes == ["loudness: the audio is silent or nearly so: left at its level"]
