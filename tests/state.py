"""Rows written straight into a test's database, in whatever state a test needs, broken or not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from audiobatch.db.models import (
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
    WorkerProcess,
    utcnow,
)


def add_batch(
    session: Session,
    batch_id: str,
    status: BatchStatus,
    jobs: dict[str, JobStatus],
    parents: dict[str, list[str]] | None = None,
) -> dict[str, int]:
    """A batch with a job per key in the given status, and the dependencies among them; the
    jobs' ids by key."""
    now = utcnow()
    rows = {
        key: Job(key=key, kind="dialogue", queue="dialogue", spec={}, status=s, created_at=now)
        for key, s in jobs.items()
    }
    session.add(
        Batch(
            id=batch_id, name=batch_id, status=status, manifest_sha256="0" * 64, source="test",
            created_at=now, jobs=list(rows.values()),
        )
    )  # fmt: skip
    session.flush()
    for key, of in (parents or {}).items():
        session.add_all(JobDependency(job_id=rows[key].id, parent_id=rows[p].id) for p in of)
    return {key: job.id for key, job in rows.items()}


def hold(
    session: Session, job_id: int, worker: str, *, lease_s: float | None, claimed_s_ago: float
) -> None:
    """Make job ``job_id`` running, claimed by ``worker`` ``claimed_s_ago`` seconds ago, with a
    lease that runs out ``lease_s`` from now (negative: it ran out; None: no lease)."""
    now = utcnow()
    job = session.get_one(Job, job_id)
    job.status = JobStatus.RUNNING
    job.lease_owner = worker
    job.lease_expires_at = None if lease_s is None else now + timedelta(seconds=lease_s)
    job.started_at = now - timedelta(seconds=claimed_s_ago)


def heartbeat(session: Session, worker: str, *, seen_s_ago: float, stopped: bool = False) -> None:
    """A row in ``workers`` for ``worker``, last seen ``seen_s_ago`` seconds ago."""
    seen = utcnow() - timedelta(seconds=seen_s_ago)
    session.add(
        WorkerProcess(
            id=worker, host="test", pid=1, role="worker", queues=["dialogue"], concurrency=1,
            jobs_in_hand=[], version="test", started_at=seen, last_seen_at=seen,
            stopped_at=seen if stopped else None,
        )
    )  # fmt: skip
