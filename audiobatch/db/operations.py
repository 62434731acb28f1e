"""Operator actions on a batch: retry failed jobs, cancel what has not run, resume a paused batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from audiobatch.db.jobs import CHARACTERS_SPENT
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
)
from audiobatch.db.session import rows_affected
from audiobatch.errors import NotFoundError


def retry_failed(session: Session, batch: Batch, job_key: str | None = None) -> int:
    """Send failed jobs back to the queue (dependants that failed with them wait again). Job
    ``job_key`` alone goes with its episode's parts and stitch: an episode's failed parts, a
    part's episode."""
    query = select(Job).where(Job.batch_id == batch.id, Job.status == JobStatus.FAILED)
    if job_key is not None:
        named = session.execute(
            select(Job.id, Job.part_of).where(Job.batch_id == batch.id, Job.key == job_key)
        ).first()
        if named is None:
            raise NotFoundError(f"batch {batch.name} [{batch.id}] has no job {job_key!r}")
        query = query.where(
            or_(Job.id == named.id, Job.part_of == named.id, Job.id == named.part_of)
        )
    failed = list(session.scalars(query))
    if job_key is not None and not failed:
        raise NotFoundError(f"batch {batch.name} [{batch.id}] has no failed job {job_key!r}")
    ids = [job.id for job in failed]
    # A job whose parents have not all succeeded waits in pending; it is queued when they do.
    parent = aliased(Job)
    waiting = set(
        session.scalars(
            select(JobDependency.job_id)
            .join(parent, parent.id == JobDependency.parent_id)
            .where(JobDependency.job_id.in_(ids), parent.status != JobStatus.SUCCEEDED)
        )
    )
    for job in failed:
        job.status = JobStatus.PENDING if job.id in waiting else JobStatus.QUEUED
        job.attempts = 0
        job.error = job.error_code = None
        job.finished_at = job.next_attempt_at = job.published_at = None
    if failed:
        batch.status = BatchStatus.RUNNING
        batch.finished_at = batch.results_at = None
        batch.status_reason = None
    return len(failed)


def cancel(session: Session, batch: Batch, now: datetime, *, abandon: bool = False) -> int:
    """Cancel every job that has not started; running ones finish and keep their outputs, or with
    ``abandon`` are cancelled too (their workers drop them at their next lease renewal and record
    nothing). The batch ends as ``cancelled`` once nothing runs (see :func:`jobs.end_batch_if_done`);
    returns how many jobs were cancelled."""
    if batch.status in TERMINAL_BATCH_STATUSES:
        return 0
    stopped = [JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.PAUSED]
    if abandon:
        stopped.append(JobStatus.RUNNING)
    cancelled = rows_affected(
        session.execute(
            update(Job)
            .where(Job.batch_id == batch.id, Job.status.in_(stopped))
            .values(
                status=JobStatus.CANCELLED,
                finished_at=now,
                error="cancelled by operator",
                lease_owner=None,
                lease_expires_at=None,
            )
        )
    )
    batch.status_reason = "cancelled by operator"
    return cancelled


def resume(session: Session, batch: Batch) -> int:
    """Queue the paused jobs of a paused batch again; a batch that has spent its character
    budget goes on without it (it would pause again at once)."""
    if batch.character_budget is not None:
        spent = session.scalar(select(CHARACTERS_SPENT).where(Batch.id == batch.id)) or 0
        if spent >= batch.character_budget:
            batch.character_budget = None
    resumed = rows_affected(
        session.execute(
            update(Job)
            .where(Job.batch_id == batch.id, Job.status == JobStatus.PAUSED)
            .values(status=JobStatus.QUEUED, published_at=None)
        )
    )
    if batch.status is BatchStatus.PAUSED:
        batch.status = BatchStatus.RUNNING
        batch.status_reason = None
    return resumed
