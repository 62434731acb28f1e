"""Operator actions on a batch: retry failed jobs, cancel what has not run, resume a paused batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from audiobatch.db import jobs
from audiobatch.db.batches import CHARACTERS_SPENT
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobStatus,
)
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
    # locked and read anew: a finisher ending the batch now waits and sees the jobs queued again,
    # and a batch it ended a moment ago is reopened from what it is, not what it was
    session.refresh(batch, with_for_update=True)
    failed = list(session.scalars(query.with_only_columns(Job.id)))
    if job_key is not None and not failed:
        raise NotFoundError(f"batch {batch.name} [{batch.id}] has no failed job {job_key!r}")
    retried = jobs.retry_failed(session, failed)
    if retried:
        batch.status = BatchStatus.RUNNING
        batch.finished_at = batch.results_at = None
        batch.status_reason = None
    return retried


def cancel(session: Session, batch: Batch, now: datetime, *, abandon: bool = False) -> int:
    """Cancel every job that has not started; running ones finish and keep their outputs, or with
    ``abandon`` are cancelled too (their workers drop them at their next lease renewal and record
    nothing). The batch ends as ``cancelled`` once nothing runs (see :func:`batches.end_batch_if_done`);
    returns how many jobs were cancelled."""
    if batch.status in TERMINAL_BATCH_STATUSES:
        return 0
    cancelled = jobs.cancel(session, batch.id, now, running_too=abandon)
    batch.status_reason = "cancelled by operator"
    batch.resume_at = None
    return cancelled


def resume(session: Session, batch: Batch) -> int:
    """Queue the paused jobs of a paused batch again; a batch that has spent its character
    budget goes on without it (it would pause again at once)."""
    # locked and read anew: a worker handing back a job of this batch as paused waits, then
    # sees it running, so no job is left paused in a running batch
    session.refresh(batch, with_for_update=True)
    if batch.character_budget is not None:
        spent = session.scalar(select(CHARACTERS_SPENT).where(Batch.id == batch.id)) or 0
        if spent >= batch.character_budget:
            batch.character_budget = None
    resumed = jobs.resume(session, batch.id)
    batch.resume_at = None
    if batch.status is BatchStatus.PAUSED:
        batch.status = BatchStatus.RUNNING
        batch.status_reason = None
    return resumed
