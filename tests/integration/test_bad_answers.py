"""Broken answers and unusable sources: retried or failed with a reason, never stored as success."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from audiobatch.backend import Backend
from audiobatch.db.models import Artifact, Attempt, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient, Timeouts
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import load_manifests
from audiobatch.render.runner import Runtime, run_job
from audiobatch.retry import RetryPolicy
from audiobatch.storage import open_storage
from tests.hostile_api import Canned, HostileApi

Api = RunningEmulator | HostileApi

REPO = Path(__file__).resolve().parents[2]
HOST = "JBFqnCBsd6RMkjVDRZzb"
JOBS = {
    "dialogue": f"  - {{id: j, kind: dialogue, inputs: [{{voice: {HOST}, text: hello there}}]}}\n",
    "ndjson": f"  - {{id: j, kind: dialogue, stream: true, timestamps: true, inputs: [{{voice: {HOST}, text: hi}}, {{voice: {HOST}, text: yo}}]}}\n",
    "multipart": "  - {id: j, kind: music, detailed: true, prompt: calm, music_length_ms: 3000}\n",
    "zip": "  - {id: j, kind: stems, source: line-01.mp3}\n",  # copied beside the manifest
}


def submit_one(url: str, tmp_path: Path, jobs: str) -> int:
    """Submit a batch of the one job in ``jobs``; its id."""
    manifest = tmp_path / "m.yaml"
    (tmp_path / "line-01.mp3").write_bytes((REPO / "manifests/audio/line-01.mp3").read_bytes())
    manifest.write_text(f"batch: bad\njobs:\n{jobs}")
    [loaded] = load_manifests([manifest])
    with session_scope(url) as session:
        batch = insert_batch(session, loaded, utcnow())
        return session.scalars(select(Job.id).where(Job.batch_id == batch.id)).one()


def render_once(
    tmp_path: Path,
    url: str,
    job_id: int,
    api: Api,
    policy: RetryPolicy,
    timeouts: Timeouts = Timeouts(),
) -> Job:
    """Run the job once against ``api``; the job after."""
    runtime = Runtime(
        database_url=url,
        storage=open_storage(f"file://{tmp_path / 'renders'}"),
        client=ElevenLabsClient(api.url, "key", timeouts=timeouts),
        limiter=LocalLimiter({"general": 2, "music": 2}),
        publish=lambda wakeups: None,
        worker="w",
        backend=Backend.of(api.url, "key"),
        policy=policy,
    )
    run_job(job_id, runtime)
    with session_scope(url) as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def render_to_the_end(
    tmp_path: Path, url: str, job_id: int, api: Api, attempts: int, timeouts: Timeouts = Timeouts()
) -> Job:
    """Run the job against ``api`` until it stops retrying (re-queued by hand, as the reconciler
    would), with at most ``attempts``; the job after."""
    for _ in range(attempts):
        job = render_once(tmp_path, url, job_id, api, RetryPolicy(max_attempts=attempts), timeouts)
        if job.status is not JobStatus.RETRYING:
            break
        with session_scope(url) as session:
            session.get_one(Job, job_id).status = JobStatus.QUEUED
    return job


def attempt_errors(url: str, job_id: int) -> list[str | None]:
    """The error of each of the job's attempts, first to last."""
    with session_scope(url) as session:
        query = select(Attempt.error_message).where(Attempt.job_id == job_id)
        return list(session.scalars(query.order_by(Attempt.id)))


def run_one(
    tmp_path: Path,
    url: str,
    jobs: str,
    api: Api,
    before_run: Callable[[], None] = lambda: None,
) -> Job:
    """Submit ``jobs``, run the one job once against ``api``; the job after, which stored nothing."""
    job_id = submit_one(url, tmp_path, jobs)
    before_run()
    with api:
        job = render_once(tmp_path, url, job_id, api, RetryPolicy())
    assert not stored_outputs(url, job_id)
    return job


def stored_outputs(url: str, job_id: int) -> list[str]:
    """The names of the job's recorded outputs."""
    with session_scope(url) as session:
        return list(session.scalars(select(Artifact.name).where(Artifact.job_id == job_id)))


def stored_files(tmp_path: Path) -> list[str]:
    """Every file in storage but the batch's ``results.json``, by name."""
    files = (path for path in (tmp_path / "renders").rglob("*") if path.is_file())
    return sorted(path.name for path in files if path.name != "results.json")


def emulator(*faults: str) -> RunningEmulator:
    """The emulator, with every answer spoiled by one of ``faults`` when some are given."""
    return serve_in_thread(EmulatorConfig(fault_rate=1.0 if faults else 0.0, faults=faults))


@pytest.fixture
def url(migrated_sqlite_url: str) -> Iterator[str]:
    yield migrated_sqlite_url


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        ("truncate", "dialogue", "without sending complete message body"),
        ("disconnect", "dialogue", "no complete answer"),
        ("truncate", "zip", "without sending complete message body"),
        ("malformed", "zip", "does not open"),
        ("malformed", "multipart", "closing boundary"),
        ("malformed", "ndjson", "not JSON"),
        ("empty", "dialogue", "empty body"),
        ("empty", "zip", "empty body"),
        ("500", "dialogue", "Internal Server error"),
        ("503", "multipart", "temporarily unavailable"),
        ("busy", "dialogue", "high levels of traffic"),
    ],
)
def test_a_broken_answer_is_retried_and_nothing_is_stored(
    url: str, tmp_path: Path, fault: str, kind: str, reason: str
) -> None:
    job = run_one(tmp_path, url, JOBS[kind], emulator(fault))
    assert job.status is JobStatus.RETRYING
    assert reason in (job.error or "")
    assert not list((tmp_path / "renders").rglob("*.partial"))


def test_the_retry_waits_as_long_as_the_apis_retry_after_says(url: str, tmp_path: Path) -> None:
    from audiobatch.emulator.faults import RETRY_AFTER_S

    job = run_one(tmp_path, url, JOBS["dialogue"], emulator("503"))
    with session_scope(url) as session:
        [attempt] = session.scalars(select(Attempt).where(Attempt.job_id == job.id))
    assert job.status is JobStatus.RETRYING and job.next_attempt_at is not None
    # without Retry-After the first backoff would be at most base_delay_s (1 s)
    waited = (job.next_attempt_at - attempt.finished_at).total_seconds()
    assert RETRY_AFTER_S - 0.1 <= waited <= RETRY_AFTER_S + 0.1


def test_a_source_file_gone_by_render_time_fails_the_job_with_its_name(
    url: str, tmp_path: Path
) -> None:
    source = tmp_path / "take.mp3"
    source.write_bytes((REPO / "manifests/audio/line-01.mp3").read_bytes())
    jobs = f"  - {{id: j, kind: voice_change, voice: {HOST}, source: {source}}}\n"
    job = run_one(tmp_path, url, jobs, emulator(), before_run=source.unlink)
    assert job.status is JobStatus.FAILED
    assert f"source file {source} is missing" in (job.error or "")


def test_a_source_that_is_not_audio_fails_the_job_before_any_api_call(
    url: str, tmp_path: Path
) -> None:
    source = tmp_path / "notes.mp3"
    source.write_text("these are my notes, not a recording")
    job = run_one(
        tmp_path,
        url,
        f"  - {{id: j, kind: voice_change, voice: {HOST}, source: {source}}}\n",
        emulator(),
    )
    assert job.status is JobStatus.FAILED
    assert "not audio" in (job.error or "")
    with session_scope(url) as session:
        assert session.get_one(Job, job.id).attempts == 1


def dialogue(output_format: str, text: str = "hello there", extra: str = "") -> str:
    return (
        f"  - {{id: j, kind: dialogue, output_format: {output_format}{extra}, "
        f"inputs: [{{voice: {HOST}, text: {text}}}]}}\n"
    )


PLAN = "  - {id: j, kind: music_plan, prompt: calm piano}\n"
JSON_ERROR = {
    "detail": {"type": "internal_error", "code": "internal_error", "message": "It broke."}
}
FATAL_ERROR = {
    "detail": {"status": "voice_not_found", "message": "A voice with that id was not found."}
}
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)
OGG = b"OggS\x00\x02" + bytes(400)


@pytest.mark.parametrize(
    ("jobs", "body", "content_type"),
    [
        (dialogue("mp3_44100_128"), json.dumps(JSON_ERROR).encode(), "audio/mpeg"),
        (dialogue("pcm_16000"), json.dumps(JSON_ERROR).encode(), "application/json"),
        (JOBS["zip"], json.dumps(JSON_ERROR).encode(), "application/zip"),
        (JOBS["ndjson"], json.dumps(JSON_ERROR).encode() + b"\n", "application/json"),
        (PLAN, json.dumps(JSON_ERROR).encode(), "application/json"),
    ],
)
def test_a_200_carrying_the_apis_error_is_that_error_and_nothing_is_stored(
    url: str, tmp_path: Path, jobs: str, body: bytes, content_type: str
) -> None:
    job = run_one(tmp_path, url, jobs, HostileApi(Canned(body, content_type)))
    assert job.status is JobStatus.RETRYING  # internal_error: the same request may work later
    assert "It broke." in (job.error or "") and job.error_code == "internal_error"
    assert stored_files(tmp_path) == []


def test_a_200_carrying_a_refusal_fails_the_job_with_the_apis_message(
    url: str, tmp_path: Path
) -> None:
    answer = Canned(json.dumps(FATAL_ERROR).encode(), "application/json")
    job = run_one(tmp_path, url, dialogue("mp3_44100_128"), HostileApi(answer))
    assert job.status is JobStatus.FAILED
    assert "A voice with that id was not found." in (job.error or "")
    assert job.error_code == "voice_not_found"


@pytest.mark.parametrize(
    ("jobs", "content_type"),
    [(dialogue("mp3_44100_128"), "text/html"), (dialogue("ulaw_8000"), "audio/basic")],
)
def test_an_html_page_in_a_200_is_retried_and_not_stored(
    url: str, tmp_path: Path, jobs: str, content_type: str
) -> None:
    job = run_one(tmp_path, url, jobs, HostileApi(Canned(HTML_PAGE, content_type)))
    assert job.status is JobStatus.RETRYING
    assert "an HTML page: 502 Bad Gateway" in (job.error or "")
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize(
    ("jobs", "body", "content_type", "reason"),
    [
        (dialogue("mp3_44100_128"), OGG, "audio/mpeg", "where mp3_44100_128 was asked"),
        (dialogue("opus_48000_64"), MP3, "audio/ogg", "where opus_48000_64 was asked"),
        (JOBS["zip"], MP3, "application/zip", "where ZIP was asked"),
        (JOBS["multipart"], MP3, "audio/mpeg", "where multipart/mixed was asked"),
        (JOBS["multipart"], MP3, "multipart/mixed; boundary=b0und", "does not start with its"),
        (JOBS["ndjson"], MP3, "application/json", "where NDJSON was asked"),
        (PLAN, MP3, "audio/mpeg", "audio/mpeg where JSON was asked"),
        (dialogue("pcm_16000"), b"", "audio/pcm", "empty body"),
    ],
)
def test_a_200_in_another_format_than_asked_is_retried_and_not_stored(
    url: str, tmp_path: Path, jobs: str, body: bytes, content_type: str, reason: str
) -> None:
    job = run_one(tmp_path, url, jobs, HostileApi(Canned(body, content_type)))
    assert job.status is JobStatus.RETRYING
    assert reason in (job.error or "")
    assert stored_files(tmp_path) == []


def stems_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_fails_the_job_for_good_and_nothing_is_stored(url: str, tmp_path: Path) -> None:
    bomb = stems_zip({"vocals.mp3": MP3, "drums.mp3": bytes(200 << 20)})
    assert len(bomb) < 300_000  # 200 MiB from a few hundred KB
    job = run_one(tmp_path, url, JOBS["zip"], HostileApi(Canned(bomb, "application/zip")))
    assert job.status is JobStatus.FAILED
    assert "ZIP bomb" in (job.error or "") and job.error_code == "answer_too_large"
    assert stored_files(tmp_path) == []


def test_only_the_stems_of_a_zip_are_stored_and_the_rest_is_noted(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = stems_zip(
        {"vocals.mp3": MP3, "../../etc/cron.d/evil": b"* * * * * root sh", "readme.txt": b"hi"}
    )
    job_id = submit_one(url, tmp_path, JOBS["zip"])
    with HostileApi(Canned(archive, "application/zip")) as api:
        job = render_once(tmp_path, url, job_id, api, RetryPolicy())
    assert job.status is JobStatus.SUCCEEDED
    assert stored_outputs(url, job_id) == ["vocals.mp3"]
    assert stored_files(tmp_path) == ["vocals.mp3"]
    assert "/j: stems ZIP entries that name no expected stem" in caplog.text
    with session_scope(url) as session:
        [note] = session.scalars(select(Attempt.error_message).where(Attempt.job_id == job_id))
    assert note == (
        "stems ZIP entries that name no expected stem, not stored: "
        "'../../etc/cron.d/evil', 'readme.txt'"
    )


@pytest.mark.parametrize(
    "jobs",
    [
        dialogue("mp3_44100_128", "A sentence long enough to be missed when it is cut short."),
        dialogue("opus_48000_64", "A sentence long enough to be missed when it is cut short."),
        dialogue("pcm_24000", "A sentence long enough to be missed when it is cut short."),
        dialogue("alaw_8000", "A sentence long enough to be missed when it is cut short."),
        dialogue(
            "mp3_22050_32",
            "A sentence long enough to be missed when it is cut short.",
            ", timestamps: true, stream: true",
        ),
        dialogue(
            "ulaw_8000",
            "A sentence long enough to be missed when it is cut short.",
            ", timestamps: true",
        ),
    ],
)
def test_audio_cut_short_is_retried_and_never_stored(url: str, tmp_path: Path, jobs: str) -> None:
    job = run_one(tmp_path, url, jobs, emulator("short"))
    assert job.status is JobStatus.RETRYING
    assert job.error_code == "truncated_audio" and "cut short" in (job.error or "")
    assert stored_files(tmp_path) == []


def test_audio_cut_short_at_every_attempt_fails_the_job_with_that_reason(
    url: str, tmp_path: Path
) -> None:
    job_id = submit_one(url, tmp_path, dialogue("mp3_44100_128", "Long enough to be missed."))
    with emulator("short") as api:
        job = render_to_the_end(tmp_path, url, job_id, api, attempts=3)
    assert job.status is JobStatus.FAILED
    assert job.error_code == "truncated_audio" and job.attempts == 3
    with session_scope(url) as session:
        attempts = session.scalars(select(Attempt).where(Attempt.job_id == job_id)).all()
        assert [a.error_code for a in attempts] == ["truncated_audio"] * 3
    assert stored_outputs(url, job_id) == []


# a trickle is cut off within seconds; the defaults hold the same rules over longer spans
QUICK = Timeouts(json_answer_s=1.0, min_audio_bytes_per_s=1000, audio_window_s=1.0)
SLOW_MP3 = Canned(MP3 + bytes(8000), "audio/mpeg").trickled(20, 0.1)  # 200 bytes a second
STEMS = stems_zip({"vocals.mp3": MP3})


def test_a_job_whose_answers_trickle_fails_after_its_attempts_saying_how_slow(
    url: str, tmp_path: Path
) -> None:
    job_id = submit_one(url, tmp_path, dialogue("mp3_44100_128"))
    with HostileApi(SLOW_MP3) as api:
        job = render_to_the_end(tmp_path, url, job_id, api, attempts=2, timeouts=QUICK)
    assert job.status is JobStatus.FAILED and job.attempts == 2
    assert "slower than 1000 bytes/s" in (job.error or "")
    errors = attempt_errors(url, job_id)
    assert len(errors) == 2 and all("slower than 1000 bytes/s" in (e or "") for e in errors)
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize(
    ("jobs", "slow", "honest", "reason"),
    [
        (JOBS["zip"], Canned(STEMS, "application/zip").trickled(1, 0.05), Canned(STEMS, "application/zip"), "1000 bytes/s"),
        (PLAN, Canned(b'{"chunks": []}' + b" " * 100, "application/json").trickled(1, 0.1), Canned(b'{"chunks": []}', "application/json"), "the 1 s a whole answer may take"),
    ],
)  # fmt: skip
def test_a_job_whose_first_answer_trickles_succeeds_when_the_next_is_honest(
    url: str, tmp_path: Path, jobs: str, slow: Canned, honest: Canned, reason: str
) -> None:
    job_id = submit_one(url, tmp_path, jobs)
    with HostileApi(slow, honest) as api:
        job = render_to_the_end(tmp_path, url, job_id, api, attempts=3, timeouts=QUICK)
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 2
    [first, _] = attempt_errors(url, job_id)
    assert first is not None and "the API sent" in first and reason in first
