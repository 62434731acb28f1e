"""A full-length episode as a user renders one: a CSV line per turn, `audiobatch run`, one file.

The emulator runs as its own process and spoils a fifth of its answers (errors, cut and malformed
bodies): the parts that meet a fault are retried, and the episode still comes out whole.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

from tests.acceptance.cli import audiobatch, clean_environment, running_emulator

KEY = "episode-acceptance-key"
VOICES = {
    "host": "JBFqnCBsd6RMkjVDRZzb",
    "cohost": "Aw4FAjKCGjjNkVhN1Xmq",
    "guest": "EXAVITQu4vr4xnSDxMaL",
    "producer": "IKne3meq5aSn9XLyUdCD",
}
FAULTS = "500,503,busy,truncate,disconnect,malformed,empty"


def write_episode(folder: Path, characters: int) -> Path:
    """One episode of at least ``characters`` characters, its turns going round four voices."""
    path = folder / "episode.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["episode", "voice", "text"])
        total, n = 0, 0
        while total < characters:
            text = (
                f"This is turn {n}, and it talks about rendering long episodes in parts. "
                f"Each part goes to the API alone, and the parts come back together at the end. "
                f"Did turn {n} make that clear?"
            )
            writer.writerow(["pilot", list(VOICES)[n % 4], text])
            total, n = total + len(text), n + 1
    return path


def test_a_30000_character_episode_in_4_voices_renders_into_one_file_despite_faults(
    tmp_path: Path,
) -> None:
    episode = write_episode(tmp_path, 30_000)
    voices = tmp_path / "voices.yaml"
    voices.write_text("".join(f"{alias}: {voice}\n" for alias, voice in VOICES.items()))
    args = ("--api-key", KEY, "--concurrency", "4", "--fault-rate", "0.2", "--faults", FAULTS)
    with running_emulator(*args, "--seed", "8", cwd=tmp_path) as emulator_url:
        env = clean_environment(
            ELEVENLABS_API_KEY=KEY,
            AUDIOBATCH_API_URL=emulator_url,
            AUDIOBATCH_HOME=str(tmp_path / "home"),
            AUDIOBATCH_STORAGE_URL=f"file://{tmp_path / 'renders'}",
            AUDIOBATCH_API_CONCURRENCY="4",
            AUDIOBATCH_MAX_ATTEMPTS="10",
        )
        run = ("run", str(episode), "--voices", str(voices), "--set", "output_format=pcm_16000")
        result = audiobatch(*run, "--json", cwd=tmp_path, env=env, timeout_s=600)
        stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    [report] = json.loads(result.stdout)
    jobs = {job["id"]: job for job in report["jobs"]}
    parts = [job for job in report["jobs"] if job["part_of"] == "pilot"]
    assert sum(stats["requests_by_status"].values()) > len(parts)  # some parts met a fault
    assert len(parts) >= 15 and len(jobs) == len(parts) + 1
    assert jobs["pilot"]["parts"] == {"done": len(parts), "total": len(parts)}
    outputs = {o["name"]: Path(o["uri"].removeprefix("file://")) for o in jobs["pilot"]["outputs"]}
    assert set(outputs) == {
        "audio.pcm",
        "alignment.json",
        "metadata.json",  # the episode's one chapter
        "subtitles.srt",
        "subtitles.vtt",
    }
    part_bytes = [
        Path(part["outputs"][0]["uri"].removeprefix("file://")).stat().st_size for part in parts
    ]
    assert outputs["audio.pcm"].stat().st_size == sum(part_bytes)  # raw PCM joins byte-exact
    alignment = json.loads(outputs["alignment.json"].read_text())["alignment"]
    assert len(alignment["characters"]) >= 30_000
    ends = alignment["character_end_times_seconds"]
    assert ends == sorted(ends) and ends[-1] <= sum(part_bytes) / 2 / 16_000
    srt = outputs["subtitles.srt"].read_text()
    assert srt.count(" --> ") >= 3 * (len(jobs) - 1)


def test_a_bad_season_is_refused_with_located_problems_and_nothing_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "bad.csv").write_text(
        "episode,voice,text\npilot,host,Hello.\npilot,nobody,Who?\npilot,host,\n"
    )
    crowd = "".join(f"pilot,Voice{n:015d},Line {n} of the crowd.\n" for n in range(11))
    (tmp_path / "crowd.csv").write_text("episode,voice,text\npilot,host,Hello.\n" + crowd)
    (tmp_path / "columns.csv").write_text("episode,speaker,text\npilot,host,Hello.\n")
    env = clean_environment(AUDIOBATCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    files, flags = ("bad.csv", "crowd.csv", "columns.csv"), ("--voices", f"host={VOICES['host']}")
    result = audiobatch("run", *files, *flags, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert problems == [
        "bad.csv:3: jobs[pilot].inputs[1].voice: unknown voice alias 'nobody'; "
        "aliases defined: host",
        "bad.csv:4: jobs[pilot].inputs[2].text: must not be empty",
        "crowd.csv:2: jobs[pilot].inputs: uses 12 different voices; a dialogue job takes at most 10",
        "columns.csv:1: voice: missing column 'voice' (expected episode,voice,text)",
        "columns.csv:1: speaker: unknown column (expected episode,voice,text and maybe id)",
        "hint: give voice aliases with --voices FILE.yaml (alias: voice id per line) or "
        "--voices alias=VOICE_ID, repeatable",
    ]
    assert not (tmp_path / "home").exists() and not (tmp_path / "renders").exists()
