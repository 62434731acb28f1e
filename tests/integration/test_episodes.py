"""Episodes through the worker path: parts rendered by the emulator over HTTP, then stitched."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from sqlalchemy import select

from audiobatch.backend import Backend
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.operations import retry_failed
from audiobatch.db.reports import batch_report, find_batch
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import DialogueJob, Manifest, load_manifests
from audiobatch.manifest.episodes import episode_seed
from audiobatch.render.runner import Runtime, run_job
from audiobatch.retry import RetryPolicy
from audiobatch.storage import open_storage

KEY = "episode-test-key"
VOICES = [
    "JBFqnCBsd6RMkjVDRZzb",
    "Aw4FAjKCGjjNkVhN1Xmq",
    "EXAVITQu4vr4xnSDxMaL",
    "IKne3meq5aSn9XLyUdCD",
]
SRT_CUE = re.compile(
    r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n", re.MULTILINE
)
# samples a codec's frame holds: a stitched file may end up to one frame off its parts' sum
FRAME_SAMPLES = {"mp3": 1152, "opus": 960, "pcm": 0, "ulaw": 0}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


def season(tmp_path: Path, output_format: str, *, pause_ms: int = 0) -> Manifest:
    """One episode of about 2,200 characters in 4 voices, cut into parts of at most 800."""
    rows = ["episode,voice,text"]
    for n in range(24):
        text = f"Turn {n} begins here. It says a few more words about batches, number {n}!"
        rows.append(f'pilot,v{n % 4},"{text} And then it ends."')
    path = tmp_path / "season.csv"
    path.write_text("\n".join(rows) + "\n")
    voices = {f"v{n}": voice for n, voice in enumerate(VOICES)}
    sets = {"output_format": output_format, "part_pause_ms": pause_ms}
    [loaded] = load_manifests([path], voices=voices, defaults=sets, part_chars=800)
    return loaded


def runtime(url: str, emulator_url: str, tmp_path: Path, **policy: int) -> Runtime:
    return Runtime(
        database_url=url,
        storage=open_storage(f"file://{tmp_path / 'renders'}"),
        client=ElevenLabsClient(emulator_url, KEY),
        limiter=LocalLimiter({"general": 2, "music": 2}),
        publish=lambda _: None,
        worker="test-worker",
        backend=Backend.of(emulator_url, KEY),
        policy=RetryPolicy(**policy),
    )


def run_queued(url: str, rt: Runtime) -> None:
    """Run queued jobs, and those they unblock, until none is queued."""
    while True:
        with session_scope(url) as session:
            queued = list(
                session.scalars(
                    select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
                )
            )
        if not queued:
            return
        for job_id in queued:
            run_job(job_id, rt)


def report(url: str, batch_id: str) -> dict:
    with session_scope(url) as session:
        return batch_report(session, find_batch(session, batch_id))


def submit(url: str, manifest: Manifest) -> str:
    with session_scope(url) as session:
        return insert_batch(session, manifest, utcnow()).id


def samples(path: Path, output_format: str) -> int:
    if output_format.startswith("pcm"):
        return path.stat().st_size // 2
    if output_format.startswith("ulaw"):
        return path.stat().st_size
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def local(output: dict) -> Path:
    return Path(output["uri"].removeprefix("file://"))


@pytest.mark.parametrize(
    ("output_format", "pause_ms"),
    [("mp3_22050_32", 250), ("opus_48000_32", 0), ("pcm_16000", 400), ("ulaw_8000", 100)],
)
def test_an_episode_renders_in_parts_and_stitches_one_file_with_subtitles(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path, output_format: str, pause_ms: int
) -> None:
    upgrade(sqlite_url)
    batch_id = submit(sqlite_url, season(tmp_path, output_format, pause_ms=pause_ms))
    run_queued(sqlite_url, runtime(sqlite_url, emulator.url, tmp_path))
    result = report(sqlite_url, batch_id)
    assert result["status"] == "succeeded"
    jobs = {job["id"]: job for job in result["jobs"]}
    parts = [job for key, job in jobs.items() if key.startswith("pilot/part-")]
    assert len(parts) >= 3 and all(part["part_of"] == "pilot" for part in parts)
    episode = jobs["pilot"]
    assert episode["parts"] == {"done": len(parts), "total": len(parts)}
    ext = output_format.split("_")[0]
    outputs = {o["name"]: local(o) for o in episode["outputs"]}
    # a season's episode is one chapter: listed in metadata.json
    assert set(outputs) == {
        f"audio.{ext}",
        "alignment.json",
        "metadata.json",
        "subtitles.srt",
        "subtitles.vtt",
    }

    rate = int(output_format.split("_")[1])
    pause = round(pause_ms * rate / 1000)
    part_samples = [samples(local(part["outputs"][0]), output_format) for part in parts]
    expected = sum(part_samples) + pause * (len(parts) - 1)
    assert abs(samples(outputs[f"audio.{ext}"], output_format) - expected) <= FRAME_SAMPLES[ext]

    merged = json.loads(outputs["alignment.json"].read_text())
    starts = merged["alignment"]["character_start_times_seconds"]
    ends = merged["alignment"]["character_end_times_seconds"]
    assert starts == sorted(starts) and all(s <= e for s, e in zip(starts, ends, strict=True))
    assert ends[-1] <= expected / rate + 1e-3
    part_chars = [
        len(json.loads(local(p["outputs"][1]).read_text())["alignment"]["characters"])
        for p in parts
    ]
    assert len(merged["alignment"]["characters"]) == sum(part_chars)
    # each part begins where the parts and pauses before it end: no gap, no overlap
    first_of_part = [sum(part_chars[:n]) for n in range(1, len(parts))]
    offsets = [(sum(part_samples[:n]) + pause * n) / rate for n in range(1, len(parts))]
    for index, offset in zip(first_of_part, offsets, strict=True):
        assert starts[index] == pytest.approx(offset, abs=1e-3)
    segments = merged["voice_segments"]
    assert [s["dialogue_input_index"] for s in segments] == list(range(24))
    assert {s["voice_id"] for s in segments} == set(VOICES)

    cues = SRT_CUE.findall(outputs["subtitles.srt"].read_text())
    assert len(cues) >= 48  # every turn holds two sentences or more
    assert [int(cue[0]) for cue in cues] == list(range(1, len(cues) + 1))
    times = [
        (int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000)
        for cue in cues
        for h, m, s, ms in (cue[1:5], cue[5:9])
    ]
    assert times == sorted(times) and times[-1] <= expected / rate + 1e-3
    assert outputs["subtitles.vtt"].read_text().startswith("WEBVTT")


@pytest.mark.parametrize("retried", ["pilot", "pilot/part-002"])
def test_a_retry_renders_only_the_failed_part_then_stitches(
    database_url: str, emulator: RunningEmulator, tmp_path: Path, retried: str
) -> None:
    batch_id = submit(database_url, season(tmp_path, "pcm_16000"))
    failing = EmulatorConfig(api_keys=frozenset({KEY}), fault_rate=1.0, faults=("500",))
    with serve_in_thread(failing) as broken:
        with session_scope(database_url) as session:
            second = session.scalar(select(Job.id).where(Job.key == "pilot/part-002"))
        assert second is not None
        run_job(second, runtime(database_url, broken.url, tmp_path, max_attempts=1))
    good = runtime(database_url, emulator.url, tmp_path)
    run_queued(database_url, good)
    failed = report(database_url, batch_id)
    assert failed["status"] == "partial"
    by_key = {job["id"]: job for job in failed["jobs"]}
    assert by_key["pilot/part-002"]["status"] == "failed"
    assert by_key["pilot"]["status"] == "failed" and by_key["pilot"]["error"] == "dependency failed"
    rendered = httpx.get(f"{emulator.url}/_emulator/ledger").json()

    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        assert retry_failed(session, batch, retried) == 2  # the failed part and the stitch
    run_queued(database_url, good)
    done = report(database_url, batch_id)
    assert done["status"] == BatchStatus.SUCCEEDED.value
    assert len(httpx.get(f"{emulator.url}/_emulator/ledger").json()) == len(rendered) + 1
    assert {job["id"]: job["attempts"] for job in done["jobs"]}["pilot/part-001"] == 1


def test_how_a_job_would_be_cut_into_parts_is_no_part_of_its_request(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    path = tmp_path / "line.csv"
    path.write_text(f"episode,voice,text\nline,{VOICES[0]},Short enough for one request.\n")
    [plain] = load_manifests([path])
    [paused] = load_manifests([path], defaults={"part_pause_ms": 300, "part_chars": 4000})
    rt = runtime(sqlite_url, emulator.url, tmp_path)
    first, second = submit(sqlite_url, plain), submit(sqlite_url, paused)
    run_queued(sqlite_url, rt)
    [made] = report(sqlite_url, first)["jobs"]
    [reused] = report(sqlite_url, second)["jobs"]
    assert (made["cached"], reused["cached"]) == (False, True)


def long_pilot(tmp_path: Path, lines: list[str]) -> Manifest:
    """One episode of the given lines in 4 voices, cut into parts of at most 800 characters."""
    path = tmp_path / "pilot.csv"
    rows = [f'pilot,v{n % 4},"{text}"' for n, text in enumerate(lines)]
    path.write_text("\n".join(["episode,voice,text", *rows]) + "\n")
    voices = {f"v{n}": voice for n, voice in enumerate(VOICES)}
    [loaded] = load_manifests([path], voices=voices, defaults={"output_format": "pcm_16000"})
    return loaded.model_copy(
        update={"jobs": [job.model_copy(update={"part_chars": 800}) for job in loaded.jobs]}
    )


def test_an_edited_turn_renders_at_most_two_parts_of_a_long_episode_again(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    lines = [
        f"Turn {n} of the pilot talks about batches and voices. It ends, {n}." for n in range(130)
    ]
    rt = runtime(sqlite_url, emulator.url, tmp_path)
    first = submit(sqlite_url, long_pilot(tmp_path, lines))
    run_queued(sqlite_url, rt)
    rendered = len(httpx.get(f"{emulator.url}/_emulator/ledger").json())
    parts = [job for job in report(sqlite_url, first)["jobs"] if job["part_of"] == "pilot"]
    assert len(parts) >= 30
    [pilot] = long_pilot(tmp_path, lines).jobs
    assert isinstance(pilot, DialogueJob) and pilot.seed is None
    with session_scope(sqlite_url) as session:  # one seed, from the episode's id, in every part
        specs = session.scalars(select(Job.spec).where(Job.key.startswith("pilot/part-")))
        assert {spec["seed"] for spec in specs} == {episode_seed(pilot)}

    # longer than the line it replaces: counting from the start would move every later cut
    lines[12] = "A new line, written after the first render, says more than turn 12 did, and more."
    second = submit(sqlite_url, long_pilot(tmp_path, lines))
    run_queued(sqlite_url, rt)
    done = report(sqlite_url, second)
    assert done["status"] == BatchStatus.SUCCEEDED.value
    new_requests = len(httpx.get(f"{emulator.url}/_emulator/ledger").json()) - rendered
    assert 1 <= new_requests <= 2
    jobs = {job["id"]: job for job in done["jobs"]}
    again = [job for key, job in jobs.items() if key.startswith("pilot/part-")]
    assert sum(not job["cached"] for job in again) == new_requests
    outputs = {o["name"]: local(o) for o in jobs["pilot"]["outputs"]}
    subtitles = outputs["subtitles.srt"].read_text()
    assert "A new line, written after the first render" in subtitles
    assert "Turn 12 of" not in subtitles and "Turn 13 of" in subtitles
