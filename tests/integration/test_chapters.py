"""Chapters: placed from the alignment, written into MP3 (ID3 CHAP/CTOC) and Opus (comments),
and listed in alignment.json and metadata.json; read back with mutagen and PyAV."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import av
import pytest
from mutagen.id3 import ID3
from mutagen.oggopus import OggOpus

from audiobatch.db.migrate import upgrade
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.manifest.dialogue import Chapter
from audiobatch.render.chapters import chapter_marks
from tests.integration.test_episodes import (
    VOICES,
    emulator,
    local,
    report,
    run_queued,
    runtime,
    submit,
)

__all__ = ["emulator"]  # the module's emulator fixture, shared

TITLES = {0: "Cold open", 9: "The queue", 17: "Wrapping up"}


def chaptered(tmp_path: Path, output_format: str, turns: int, part_chars: int) -> Manifest:
    """One dialogue of ``turns`` turns in 4 voices with chapters at :data:`TITLES`."""
    inputs = [
        {"voice": f"v{n % 4}", "text": f"Turn {n} begins here, about batches, number {n}. It ends."}
        for n in range(turns)
    ]
    chapters = [{"turn": turn, "title": title} for turn, title in TITLES.items() if turn < turns]
    document = {
        "batch": "chaptered",
        "voices": {f"v{n}": voice for n, voice in enumerate(VOICES)},
        "jobs": [
            {
                "id": "show",
                "kind": "dialogue",
                "timestamps": True,
                "output_format": output_format,
                "chapters": chapters,
            }
            | {"inputs": inputs}
        ],
    }
    path = tmp_path / "show.json"
    path.write_text(json.dumps(document))
    [loaded] = load_manifests([path], part_chars=part_chars)
    return loaded


def rendered(url: str, emulator_url: str, tmp_path: Path, manifest: Manifest) -> dict[str, Path]:
    upgrade(url)
    batch_id = submit(url, manifest)
    run_queued(url, runtime(url, emulator_url, tmp_path))
    result = report(url, batch_id)
    assert result["status"] == "succeeded", result
    [show] = [job for job in result["jobs"] if job["id"] == "show"]
    return {output["name"]: local(output) for output in show["outputs"]}


def turn_starts(alignment: dict) -> dict[int, float]:
    starts: dict[int, float] = {}
    for segment in alignment["voice_segments"]:
        starts.setdefault(segment["dialogue_input_index"], segment["start_time_seconds"])
    return starts


def listed_chapters(outputs: dict[str, Path]) -> list[dict]:
    """The chapters of alignment.json, checked equal to metadata.json's and placed at their
    turns' first words."""
    alignment = json.loads(outputs["alignment.json"].read_text())
    metadata = json.loads(outputs["metadata.json"].read_text())
    assert alignment["chapters"] == metadata["chapters"]
    chapters: list[dict] = alignment["chapters"]
    starts = turn_starts(alignment)
    assert [c["title"] for c in chapters] == list(TITLES.values())
    assert chapters[0]["start_seconds"] == 0.0
    for chapter in chapters[1:]:
        assert chapter["start_seconds"] == pytest.approx(starts[chapter["turn"]], abs=1e-6)
    for one, after in itertools.pairwise(chapters):
        assert one["end_seconds"] == after["start_seconds"] > one["start_seconds"]
    return chapters


@pytest.mark.parametrize(("turns", "part_chars"), [(24, 700), (20, 5000)])
def test_an_mp3_carries_id3_chapters_at_its_turns_times(
    sqlite_url: str, emulator, tmp_path: Path, turns: int, part_chars: int
) -> None:
    outputs = rendered(
        sqlite_url, emulator.url, tmp_path, chaptered(tmp_path, "mp3_44100_64", turns, part_chars)
    )
    chapters = listed_chapters(outputs)
    tags = ID3(outputs["audio.mp3"])
    [toc] = tags.getall("CTOC")
    assert toc.child_element_ids == ["ch001", "ch002", "ch003"]
    chap = [tags[f"CHAP:{element}"] for element in toc.child_element_ids]
    assert [str(frame.sub_frames["TIT2"]) for frame in chap] == list(TITLES.values())
    assert [frame.start_time for frame in chap] == [
        round(c["start_seconds"] * 1000) for c in chapters
    ]
    with av.open(str(outputs["audio.mp3"])) as container:  # FFmpeg reads them too
        assert [c["metadata"].get("title") for c in container.chapters()] == list(TITLES.values())
        duration_s = container.duration / 1_000_000
    assert chapters[-1]["end_seconds"] == pytest.approx(duration_s, abs=0.1)


def test_an_opus_episode_carries_chapter_comments(
    sqlite_url: str, emulator, tmp_path: Path
) -> None:
    outputs = rendered(
        sqlite_url, emulator.url, tmp_path, chaptered(tmp_path, "opus_48000_32", 24, 700)
    )
    chapters = listed_chapters(outputs)
    tags = OggOpus(outputs["audio.opus"]).tags
    assert tags is not None
    for number, chapter in enumerate(chapters, 1):
        assert tags[f"CHAPTER{number:03d}NAME"] == [chapter["title"]]
        clock = tags[f"CHAPTER{number:03d}"][0]
        hours, minutes, seconds = clock.split(":")
        at_s = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        assert at_s == pytest.approx(chapter["start_seconds"], abs=1e-3)
    with av.open(str(outputs["audio.opus"])) as container:
        assert [c["metadata"].get("title") for c in container.chapters()] == list(TITLES.values())


def test_a_raw_episode_lists_its_chapters_beside_the_audio(
    sqlite_url: str, emulator, tmp_path: Path
) -> None:
    outputs = rendered(
        sqlite_url, emulator.url, tmp_path, chaptered(tmp_path, "pcm_16000", 24, 700)
    )
    chapters = listed_chapters(outputs)
    assert chapters[-1]["end_seconds"] == pytest.approx(
        outputs["audio.pcm"].stat().st_size / 2 / 16000, abs=1e-6
    )


def test_a_turn_without_a_segment_of_its_own_starts_where_the_next_one_speaks() -> None:
    segments = [
        {"dialogue_input_index": 0, "start_time_seconds": 0.1},
        {"dialogue_input_index": 2, "start_time_seconds": 3.5},
    ]
    chapters = [Chapter(turn=0, title="a"), Chapter(turn=1, title="b")]
    marks = chapter_marks(chapters, segments, 5.0)
    assert [(m.start_s, m.end_s) for m in marks] == [(0.0, 3.5), (3.5, 5.0)]
