"""Every example manifest in manifests/ renders as it is, on embedded defaults."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import av
import pytest

from tests.acceptance.cli import audiobatch, clean_environment

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {
    "podcast.yaml": {
        "intro": {"audio.mp3", "alignment.json", "subtitles.srt", "subtitles.vtt"},
        "segment-1": {
            "audio.mp3",
            "alignment.json",
            "subtitles.srt",
            "subtitles.vtt",
            "loudness.json",
        },
        "outro": {"audio.pcm"},
    },
    "album.yaml": {
        "plan": {"plan.json"},
        "track": {"audio.mp3", "metadata.json"},
        "track-stems": {"vocals.mp3", "instrumental.mp3"},
        "jingle": {"audio.mp3"},
    },
    "voice-change.yaml": {
        "line-01": {"audio.mp3"},
        "line-02": {"audio.mp3"},
        "scratch": {"audio.mp3"},
        "scratch-redub": {"audio.mp3"},
    },
}


def plays(path: Path) -> bool:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0)) > 0


@pytest.mark.parametrize("manifest", sorted(EXPECTED))
def test_the_example_renders_every_promised_output(manifest: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "manifests", tmp_path, dirs_exist_ok=True)
    result = audiobatch("run", manifest, "--json", cwd=tmp_path, env=clean_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    outputs = {job["id"]: {o["name"] for o in job["outputs"]} for job in report["jobs"]}
    assert outputs == EXPECTED[manifest]
    for job in report["jobs"]:
        for output in job["outputs"]:
            path = Path(output["uri"].removeprefix("file://"))
            if path.suffix == ".mp3":
                assert plays(path), path
            if path.suffix == ".json":
                json.loads(path.read_text())


def test_stems_and_voice_changes_are_derived_from_their_sources(tmp_path: Path) -> None:
    shutil.copytree(REPO / "manifests", tmp_path, dirs_exist_ok=True)
    result = audiobatch("run", "voice-change.yaml", "--json", cwd=tmp_path, env=clean_environment())
    [report] = json.loads(result.stdout)
    hashes = {job["id"]: job["outputs"][0]["sha256"] for job in report["jobs"]}
    # same recording, two voices: different audio; a different source: different audio
    assert len({hashes["line-01"], hashes["line-02"], hashes["scratch-redub"]}) == 3


def test_the_season_example_renders_each_episode_into_one_file_with_subtitles(
    tmp_path: Path,
) -> None:
    shutil.copytree(REPO / "manifests", tmp_path, dirs_exist_ok=True)
    voices = ("--voices", "season-voices.yaml")
    whole = audiobatch("validate", "season.csv", *voices, cwd=tmp_path, env=clean_environment())
    assert whole.returncode == 0, whole.stderr
    # the opening of every episode, in parts of 400 characters, keeps the suite quick;
    # tests/acceptance/test_full_length_episode.py renders a full-length episode
    with open(tmp_path / "season.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    episodes = sorted({row[0] for row in rows[1:]})
    opening = [rows[0]] + [row for ep in episodes for row in [r for r in rows if r[0] == ep][:5]]
    with open(tmp_path / "season.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(opening)
    env = clean_environment(AUDIOBATCH_PART_CHARS="400")
    result = audiobatch("run", "season.csv", *voices, "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    jobs = {job["id"]: job for job in report["jobs"]}
    for episode in episodes:
        names = {o["name"]: o for o in jobs[episode]["outputs"]}
        assert set(names) == {
            "audio.mp3",
            "alignment.json",
            "metadata.json",
            "subtitles.srt",
            "subtitles.vtt",
        }
        audio = Path(names["audio.mp3"]["uri"].removeprefix("file://"))
        assert plays(audio)
        with av.open(str(audio)) as container:  # each episode is one chapter, named by its id
            assert [c["metadata"]["title"] for c in container.chapters()] == [episode]
        parts = jobs[episode]["parts"]
        assert parts["done"] == parts["total"] >= 2
