"""Job state transitions. Every change is a conditional UPDATE, so concurrent workers cannot both win.

A job moves ``pending → queued → running → succeeded | retrying | failed``; ``retrying`` goes back to
``queued`` when the dispatcher finds it due. Finishing a job locks its batch row first, so the last
job of a batch is seen as last by exactly one transaction, which then finishes the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    TERMINAL_JOB_STATUSES,
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
)
from audiobatch.db.session import rows_affected
from audiobatch.storage import StoredObject

DEPENDENCY_FAILED = "dependency failed"


@dataclass(frozen=True)
class Claim:
    """What a worker needs of the job it has just claimed."""

    job_id: int
    batch_id: str
    batch_name: str
    key: str
    kind: str
    spec: dict[str, object]
    attempts: int


@dataclass(frozen=True)
class Finish:
    """The outcome of finishing a job: which jobs became queued, and the batch's end if it ended."""

    won: bool
    queued: list[tuple[int, str]]
    batch_status: BatchStatus | None = None


def claimable_kind(session: Session, job_id: int) -> str | None:
    """The job's kind if it is queued (worth waiting for a limiter slot), else None."""
    return session.scalar(select(Job.kind).where(Job.id == job_id, Job.status == JobStatus.QUEUED))


def claim(
    session: Session, job_id: int, worker: str, lease_s: float, now: datetime
) -> Claim | None:
    """Take a queued job under a lease; None when another worker has it or it is not queued."""
    won = rows_affected(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_s),
                started_at=func.coalesce(Job.started_at, now),
            )
        )
    )
    if not won:
        return None
    job = session.get_one(Job, job_id)
    session.execute(
        update(Batch)
        .where(Batch.id == job.batch_id, Batch.status == BatchStatus.QUEUED)
        .values(status=BatchStatus.RUNNING)
    )
    return Claim(
        job_id=job.id,
        batch_id=job.batch_id,
        batch_name=job.batch.name,
        key=job.key,
        kind=job.kind,
        spec=job.spec,
        attempts=job.attempts,
    )


def artifacts_of(session: Session, batch_id: str, key: str) -> list[tuple[str, str]]:
    """(name, storage key) of every stored output of job ``key`` in the batch."""
    rows = session.execute(
        select(Artifact.name, Artifact.key)
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.batch_id == batch_id, Job.key == key)
        .order_by(Artifact.id)
    )
    return list(rows)


def extend_lease(session: Session, job_id: int, worker: str, lease_s: float, now: datetime) -> bool:
    """Push the lease forward; False when the job is no longer this worker's."""
    return bool(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.lease_owner == worker)
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
            )
        )
    )


def record_attempt(session: Session, attempt: Attempt) -> None:
    """Store one API call and count it on its job."""
    session.add(attempt)
    session.execute(update(Job).where(Job.id == attempt.job_id).values(attempts=Job.attempts + 1))


def succeed(
    session: Session,
    claim_: Claim,
    worker: str,
    outputs: list[tuple[str, StoredObject]],
    now: datetime,
) -> Finish:
    """Mark the job succeeded with its verified outputs, queue its dependants, maybe end the batch."""
    _lock_batch(session, claim_.batch_id)
    if not _finish_job(session, claim_.job_id, worker, JobStatus.SUCCEEDED, None, None, now):
        return Finish(won=False, queued=[])
    session.execute(delete(Artifact).where(Artifact.job_id == claim_.job_id))
    session.add_all(
        Artifact(
            job_id=claim_.job_id,
            name=name,
            key=obj.key,
            uri=obj.uri,
            bytes=obj.bytes,
            sha256=obj.sha256,
            content_type=obj.content_type,
            created_at=now,
        )
        for name, obj in outputs
    )
    queued = _queue_ready_dependants(session, claim_.job_id)
    return Finish(
        won=True, queued=queued, batch_status=_end_batch_if_done(session, claim_.batch_id, now)
    )


def retry_later(
    session: Session,
    job_id: int,
    worker: str,
    error: str,
    error_code: str | None,
    next_attempt_at: datetime,
) -> bool:
    """Park the job in ``retrying`` until ``next_attempt_at``; the dispatcher re-queues it."""
    return bool(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.lease_owner == worker)
                .values(
                    status=JobStatus.RETRYING,
                    next_attempt_at=next_attempt_at,
                    error=error,
                    error_code=error_code,
                    lease_owner=None,
                    lease_expires_at=None,
                    published_at=None,
                )
            )
        )
    )


def fail(
    session: Session,
    claim_: Claim,
    worker: str,
    error: str,
    error_code: str | None,
    now: datetime,
) -> Finish:
    """Mark the job failed; every job that depends on it, directly or not, fails with it."""
    _lock_batch(session, claim_.batch_id)
    if not _finish_job(session, claim_.job_id, worker, JobStatus.FAILED, error, error_code, now):
        return Finish(won=False, queued=[])
    _fail_dependants(session, claim_.job_id, now)
    return Finish(
        won=True, queued=[], batch_status=_end_batch_if_done(session, claim_.batch_id, now)
    )


def _lock_batch(session: Session, batch_id: str) -> None:
    session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())


def _finish_job(
    session: Session,
    job_id: int,
    worker: str,
    status: JobStatus,
    error: str | None,
    error_code: str | None,
    now: datetime,
) -> bool:
    return bool(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.lease_owner == worker)
                .values(
                    status=status,
                    error=error,
                    error_code=error_code,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                )
            )
        )
    )


def _queue_ready_dependants(session: Session, parent_id: int) -> list[tuple[int, str]]:
    other = aliased(JobDependency)
    parent = aliased(Job)
    unfinished_parent = exists().where(
        other.job_id == Job.id,
        parent.id == other.parent_id,
        parent.status != JobStatus.SUCCEEDED,
    )
    ready = session.execute(
        select(Job.id, Job.queue)
        .join(JobDependency, JobDependency.job_id == Job.id)
        .where(
            JobDependency.parent_id == parent_id,
            Job.status == JobStatus.PENDING,
            ~unfinished_parent,
        )
    ).all()
    ids = [row.id for row in ready]
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status == JobStatus.PENDING)
            .values(status=JobStatus.QUEUED, published_at=None)
        )
    return [(row.id, row.queue) for row in ready]


def _fail_dependants(session: Session, parent_id: int, now: datetime) -> None:
    frontier = [parent_id]
    while frontier:
        children = list(
            session.scalars(
                select(JobDependency.job_id)
                .join(Job, Job.id == JobDependency.job_id)
                .where(
                    JobDependency.parent_id.in_(frontier),
                    Job.status.not_in(TERMINAL_JOB_STATUSES),
                )
            )
        )
        if children:
            session.execute(
                update(Job)
                .where(Job.id.in_(children))
                .values(
                    status=JobStatus.FAILED,
                    error=DEPENDENCY_FAILED,
                    error_code="dependency_failed",
                    finished_at=now,
                )
            )
        frontier = children


def status_counts(session: Session, batch_id: str) -> dict[JobStatus, int]:
    """How many of the batch's jobs are in each status (absent statuses are left out)."""
    rows = session.execute(
        select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status)
    ).all()
    return {status: count for status, count in rows}


def _end_batch_if_done(session: Session, batch_id: str, now: datetime) -> BatchStatus | None:
    """The batch's final status if this call ended it, None while jobs remain or it had ended."""
    counts = status_counts(session, batch_id)
    if any(status not in TERMINAL_JOB_STATUSES for status in counts):
        return None
    final = batch_outcome(counts)
    ended = rows_affected(
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status.not_in(TERMINAL_BATCH_STATUSES))
            .values(status=final, finished_at=now)
        )
    )
    return final if ended else None


def batch_outcome(counts: dict[JobStatus, int]) -> BatchStatus:
    """The final status of a batch whose jobs have all ended."""
    succeeded = counts.get(JobStatus.SUCCEEDED, 0)
    failed = counts.get(JobStatus.FAILED, 0)
    if failed and succeeded:
        return BatchStatus.PARTIAL
    if failed:
        return BatchStatus.FAILED
    if succeeded or not counts:
        return BatchStatus.SUCCEEDED
    return BatchStatus.CANCELLED
