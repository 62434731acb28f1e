"""Broken answers and unusable sources: retried or failed with a reason, never stored as success."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from audiobatch.backend import Backend
from audiobatch.db.models import Artifact, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import load_manifests
from audiobatch.render.runner import Runtime, run_job
from audiobatch.storage import open_storage

REPO = Path(__file__).resolve().parents[2]
HOST = "JBFqnCBsd6RMkjVDRZzb"
JOBS = {
    "dialogue": f"  - {{id: j, kind: dialogue, inputs: [{{voice: {HOST}, text: hello there}}]}}\n",
    "ndjson": f"  - {{id: j, kind: dialogue, stream: true, timestamps: true, inputs: [{{voice: {HOST}, text: hi}}, {{voice: {HOST}, text: yo}}]}}\n",
    "multipart": "  - {id: j, kind: music, detailed: true, prompt: calm, music_length_ms: 3000}\n",
    "zip": f"  - {{id: j, kind: stems, source: {REPO / 'manifests/audio/line-01.mp3'}}}\n",
}


def run_one(
    tmp_path: Path,
    url: str,
    jobs: str,
    config: EmulatorConfig,
    before_run: Callable[[], None] = lambda: None,
) -> Job:
    """Submit ``jobs``, run the one job once against an emulator with ``config``; the job after."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"batch: bad\njobs:\n{jobs}")
    [loaded] = load_manifests([manifest])
    with session_scope(url) as session:
        batch = insert_batch(session, loaded, utcnow())
        job_id = session.scalars(select(Job.id).where(Job.batch_id == batch.id)).one()
    before_run()
    with serve_in_thread(config) as emulator:
        runtime = Runtime(
            database_url=url,
            storage=open_storage(f"file://{tmp_path / 'renders'}"),
            client=ElevenLabsClient(emulator.url, "key"),
            limiter=LocalLimiter({"general": 2, "music": 2}),
            publish=lambda wakeups: None,
            worker="w",
            backend=Backend.of(emulator.url, "key"),
        )
        run_job(job_id, runtime)
    with session_scope(url) as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        assert not list(session.scalars(select(Artifact).where(Artifact.job_id == job_id)))
        return job


@pytest.fixture
def url(sqlite_url: str) -> Iterator[str]:
    from audiobatch.db.migrate import upgrade

    upgrade(sqlite_url)
    yield sqlite_url


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
    job = run_one(tmp_path, url, JOBS[kind], EmulatorConfig(fault_rate=1.0, faults=(fault,)))
    assert job.status is JobStatus.RETRYING
    assert reason in (job.error or "")
    assert not list((tmp_path / "renders").rglob("*.partial"))


def test_the_retry_waits_as_long_as_the_apis_retry_after_says(url: str, tmp_path: Path) -> None:
    from audiobatch.db.models import Attempt
    from audiobatch.emulator.faults import RETRY_AFTER_S

    job = run_one(tmp_path, url, JOBS["dialogue"], EmulatorConfig(fault_rate=1.0, faults=("503",)))
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
    job = run_one(tmp_path, url, jobs, EmulatorConfig(), before_run=source.unlink)
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
        EmulatorConfig(),
    )
    assert job.status is JobStatus.FAILED
    assert "not audio" in (job.error or "")
    with session_scope(url) as session:
        assert session.get_one(Job, job.id).attempts == 1
