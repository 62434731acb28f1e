"""A dashboard's worth of state, written straight to SQL and storage: an ended batch with playable
outputs, a partial one with failed jobs and their attempts, a running one fired by a schedule."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from audiobatch.db.models import (
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    CatchUpPolicy,
    Job,
    JobStatus,
    OverlapPolicy,
    Schedule,
    utcnow,
)
from audiobatch.db.session import session_scope
from audiobatch.db.workers import WORKER
from audiobatch.emulator.audio import OutputFormat, Turn, render
from audiobatch.render.families import QUEUES
from audiobatch.storage import Storage
from audiobatch.worker.heartbeat import Heartbeat

HOST = "JBFqnCBsd6RMkjVDRZzb"
HOSTILE = "<script>alert('x')</script>"
"""What a manifest's source and a job's prompt say: a page must show it as text."""


@dataclass
class Seeded:
    done: str = "b-done"  # succeeded: two jobs with audio
    broken: str = "b-broken"  # partial: one succeeded, two failed (two error classes)
    nightly: str = "b-nightly"  # running, fired by the schedule "nightly"
    jobs: dict[str, int] = field(default_factory=dict)  # "batch/job" -> database id


@contextmanager
def live_worker(url: str) -> Iterator[None]:
    """A worker's heartbeats in ``url`` (every queue), live from entry until exit."""
    worker = Heartbeat(url, role=WORKER, queues=QUEUES, concurrency=4)
    worker.beat()
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def seed(url: str, storage: Storage, folder: Path) -> Seeded:
    """Write the three batches; ``folder`` gets the schedule's manifest file."""
    now = utcnow()
    seeded = Seeded()
    manifest = folder / "nightly.yaml"
    manifest.write_text(
        "batch: nightly\njobs:\n  - id: hello\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: Hello.}}]\n"
    )
    audio, _ = render([Turn(HOST, "Hello from the dashboard.")], OutputFormat.parse("mp3_22050_32"))
    with session_scope(url) as session:
        schedule = Schedule(
            name="nightly", cron="0 2 * * *", timezone="UTC", manifest=str(manifest),
            enabled=True, overlap=OverlapPolicy.ALLOW, catch_up=CatchUpPolicy.LATEST,
            next_slot_at=now + timedelta(hours=3), created_at=now,
        )  # fmt: skip
        session.add(schedule)
        session.flush()
        batches = [
            _batch(seeded.done, "demo", BatchStatus.SUCCEEDED, now - timedelta(minutes=30)),
            _batch(seeded.broken, "broken", BatchStatus.PARTIAL, now - timedelta(minutes=20)),
            _batch(seeded.nightly, "nightly", BatchStatus.RUNNING, now - timedelta(minutes=15)),
        ]
        batches[2].schedule_id = schedule.id
        batches[2].slot_at = now - timedelta(minutes=15)
        session.add_all(batches)
        session.flush()
        start = now - timedelta(minutes=10)
        specs: list[tuple[str, str, str, JobStatus, dict[str, Any]]] = [
            (seeded.done, "intro", "dialogue", JobStatus.SUCCEEDED, _dialogue("Hello.")),
            (seeded.done, "theme", "music", JobStatus.SUCCEEDED, {"prompt": HOSTILE}),
            (seeded.broken, "ok", "dialogue", JobStatus.SUCCEEDED, _dialogue("Fine.")),
            (seeded.broken, "bad", "dialogue", JobStatus.FAILED, _dialogue("Bad.")),
            (seeded.broken, "late", "music", JobStatus.FAILED, {"prompt": "late"}),
            *[
                (seeded.nightly, f"n{n}", "dialogue", JobStatus.QUEUED, _dialogue(f"N{n}."))
                for n in range(3)
            ],
            (seeded.nightly, "busy", "dialogue", JobStatus.RUNNING, _dialogue("Busy.")),
        ]
        for batch_id, key, kind, status, spec in specs:
            job = Job(
                batch_id=batch_id, key=key, kind=kind, queue=kind, spec={"id": key, **spec},
                status=status, attempts=0, created_at=start,
            )  # fmt: skip
            session.add(job)
            session.flush()
            seeded.jobs[f"{batch_id}/{key}"] = job.id
            name = next(b.name for b in batches if b.id == batch_id)
            if status is JobStatus.SUCCEEDED:
                _succeed(session, storage, job, name, audio, start)
        _attempts(session, seeded, start)
    return seeded


def _batch(batch_id: str, name: str, status: BatchStatus, created: datetime) -> Batch:
    ended = status in (BatchStatus.SUCCEEDED, BatchStatus.PARTIAL)
    return Batch(
        id=batch_id, name=name, status=status, manifest_sha256=batch_id.ljust(64, "0"),
        source=f"/manifests/{HOSTILE}.yaml" if name == "demo" else f"/manifests/{name}.yaml",
        created_at=created, finished_at=utcnow() - timedelta(minutes=1) if ended else None,
    )  # fmt: skip


def _dialogue(text: str) -> dict[str, Any]:
    return {"inputs": [{"voice": HOST, "text": text}], "output_format": "mp3_22050_32"}


def _succeed(
    session: Any, storage: Storage, job: Job, batch_name: str, audio: bytes, at: datetime
) -> None:
    stored = storage.write(
        f"{batch_name}/{job.batch_id}/{job.key}/audio.mp3", [audio], "audio/mpeg"
    )
    session.add(
        Artifact(
            job_id=job.id, batch_id=job.batch_id, name="audio.mp3", key=stored.key,
            uri=stored.uri, bytes=stored.bytes, sha256=stored.sha256, content_type="audio/mpeg",
            created_at=at,
        )
    )  # fmt: skip
    job.attempts, job.started_at, job.finished_at = 1, at, at + timedelta(seconds=1)
    session.add(_attempt(job, 1, at, "succeeded", 200, None, 800, cost=120))


def _attempts(session: Any, seeded: Seeded, at: datetime) -> None:
    bad, late, busy = (
        session.get_one(Job, seeded.jobs[name])
        for name in (f"{seeded.broken}/bad", f"{seeded.broken}/late", f"{seeded.nightly}/busy")
    )
    session.add_all(
        [
            _attempt(bad, 1, at, "retry", 503, "system_busy", 300, request_id="req-busy-1"),
            _attempt(bad, 2, at, "retry", 429, "too_many_concurrent_requests", 40),
            _attempt(bad, 3, at, "failed", 422, "invalid_request", 120, request_id="req-bad-3"),
            _attempt(busy, 1, at, "retry", 500, None, 2000),
        ]
    )
    for job, code, message in [
        (bad, "invalid_request", "voice not found"),
        (late, "dependency_failed", "dependency failed"),
    ]:
        job.error_code, job.error, job.finished_at = code, message, at + timedelta(seconds=2)
        job.attempts = 3 if job is bad else 0


def _attempt(
    job: Job,
    number: int,
    at: datetime,
    outcome: str,
    status: int,
    code: str | None,
    latency_ms: int,
    *,
    request_id: str | None = None,
    cost: int | None = None,
) -> Attempt:
    return Attempt(
        job_id=job.id, batch_id=job.batch_id, number=number, worker="test:1", started_at=at,
        finished_at=at + timedelta(milliseconds=latency_ms), outcome=outcome, http_status=status,
        error_code=code, error_message=f"{code}: answered {status}" if code else None,
        request_id=request_id, latency_ms=latency_ms, character_cost=cost,
    )  # fmt: skip
