"""Batch state: pausing active batches (an account refused, a budget spent), the characters a
batch spent, and ending a batch once its last job has ended.

Each change writes its webhook event (:mod:`audiobatch.db.webhooks`) in its own transaction.

Whether a batch has ended is asked in a transaction of its own after a job's end is committed:
whichever finisher commits last then sees every job ended, and the conditional update that ends
the batch lets exactly one of them win. No finisher waits on another, so thousands of jobs
finishing a second never queue behind a batch row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from audiobatch.db import jobs, tallies, webhooks
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    UNENDED_JOB_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobStatus,
    status_in,
    utcnow,
)
from audiobatch.db.session import hold_locks, lock_key, rows_affected
from audiobatch.manifest.notify import BATCH_ENDED, BATCH_PAUSED

_ACTIVE_BATCH = (BatchStatus.QUEUED, BatchStatus.RUNNING)


@dataclass(frozen=True)
class QuotaReset:
    """When the account's quota starts again, and whether batches that did not say go on by
    themselves then (the deployment's ``AUDIOBATCH_CONTINUE_AT_RESET``)."""

    at: datetime
    continue_by_default: bool


def pause_for_account(
    session: Session,
    job_id: int,
    worker: str,
    account: str,
    reason: str,
    error_code: str | None,
    reset: QuotaReset | None = None,
) -> int:
    """The API refused ``account`` (401): park this job and every job not yet run, in every
    active batch of that account, as ``paused`` until ``resume``; the number of batches paused.
    With the quota's ``reset`` (the quota ran out), the batches that continue at the reset
    resume at its time.

    An account refusal stops all of that account's work: sending more requests with its key
    would only be refused again, and failing the jobs would burn them. Other accounts' batches
    go on: their keys have quotas of their own.
    """
    jobs.park_for_account(session, job_id, worker, reason, error_code)
    resume_at: ColumnElement[datetime | None] | None = None
    if reset is not None:
        continues = func.coalesce(Batch.continue_at_reset, reset.continue_by_default)
        resume_at = case((continues, reset.at), else_=None)
    return _pause_batches(session, reason, Batch.account == account, resume_at=resume_at)


def _pause_batches(
    session: Session,
    reason: str,
    *only: ColumnElement[bool],
    resume_at: ColumnElement[datetime | None] | None = None,
) -> int:
    """Pause the active batches (``only`` some): their jobs not yet run wait as ``paused`` for
    ``resume`` (by an operator, or by the reconciler at ``resume_at``); jobs running now finish.
    How many batches were paused."""
    jobs.pause_waiting(session, select(Batch.id).where(Batch.status.in_(_ACTIVE_BATCH), *only))
    paused = session.scalars(
        update(Batch)
        .where(Batch.status.in_(_ACTIVE_BATCH), *only)
        .values(status=BatchStatus.PAUSED, status_reason=f"paused: {reason}", resume_at=resume_at)
        .returning(Batch.id),
        execution_options={"synchronize_session": False},
    ).all()
    for batch_id in paused:
        webhooks.record_event(session, batch_id, BATCH_PAUSED, utcnow())
    return len(paused)


def batches_due_to_resume(session: Session, now: datetime) -> list[Batch]:
    """Paused batches whose ``resume_at`` (the account's quota reset) has come."""
    return list(
        session.scalars(
            select(Batch)
            .where(status_in(Batch.status, {BatchStatus.PAUSED}), Batch.resume_at <= now)
            .with_for_update()
        )
    )


CHARACTERS_SPENT = tallies.kept(tallies.CHARACTERS)
"""The characters the API charged for a batch's jobs, over every attempt (in a query of Batch),
as kept (:mod:`audiobatch.db.tallies`)."""


def pause_over_budget(session: Session, batch_id: str | None = None) -> int:
    """Pause the active batches (``batch_id``, or any) that have spent their character budget;
    how many were paused. Jobs already sent to the API finish, so a batch may end a little over
    its budget, by what was in flight when the budget was reached.

    Asked for one batch (as a job's attempt is recorded), the question waits for any other
    transaction asking it of that batch to end: two jobs recording their costs together would
    otherwise each see only its own, neither pause the batch, and let the next jobs be sent.
    """
    if batch_id is not None:
        _lock_budget(session, batch_id)
    over = select(Batch.id, Batch.name, Batch.character_budget, CHARACTERS_SPENT).where(
        Batch.character_budget.is_not(None),
        status_in(Batch.status, _ACTIVE_BATCH),
        Batch.character_budget <= CHARACTERS_SPENT,
    )
    if batch_id is not None:
        over = over.where(Batch.id == batch_id)
    paused = 0
    for over_id, name, budget, spent in session.execute(over).all():
        reason = (
            f"character budget reached: {spent} of {budget} characters spent; "
            f"`audiobatch resume {over_id}` goes on without the budget ({name})"
        )
        paused += _pause_batches(session, reason, Batch.id == over_id)
    return paused


def _lock_budget(session: Session, batch_id: str) -> None:
    """Hold the batch's budget lock until the transaction ends (PostgreSQL: an advisory lock,
    which no other path waits for, so it joins no lock cycle with a cancel or a resume; SQLite
    runs one writing transaction at a time already)."""
    hold_locks(session, [lock_key(f"budget:{batch_id}")])


_UNFINISHED_JOB = (
    select(Job.id)
    .where(Job.batch_id == bindparam("batch"), status_in(Job.status, UNENDED_JOB_STATUSES))
    .limit(1)
)


def status_counts(session: Session, batch_id: str) -> dict[JobStatus, int]:
    """How many of the batch's jobs are in each status (absent statuses are left out)."""
    return tallies.batch_tallies(session, [batch_id])[batch_id].jobs


def end_batch_if_done(session: Session, batch_id: str, now: datetime) -> BatchStatus | None:
    """The batch's final status if this call ended it, None while jobs remain or it had ended.

    Call it in a transaction that starts after the job's end was committed (see the module note).
    """
    if session.connection().execute(_UNFINISHED_JOB, {"batch": batch_id}).first() is not None:
        return None
    # Only a batch's last finishers get here. Asked again under the batch's row lock, the question
    # sees the jobs an operator's retry (which takes the same lock) has just queued again.
    session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
    if session.connection().execute(_UNFINISHED_JOB, {"batch": batch_id}).first() is not None:
        return None
    counts = status_counts(session, batch_id)
    final = batch_outcome(counts)
    ended = rows_affected(
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status.not_in(TERMINAL_BATCH_STATUSES))
            .values(status=final, finished_at=now)
        )
    )
    if not ended:
        return None
    webhooks.note_failure_threshold(session, batch_id, now)
    webhooks.record_event(session, batch_id, BATCH_ENDED, now)
    return final


def batch_outcome(counts: dict[JobStatus, int]) -> BatchStatus:
    """The final status of a batch whose jobs have all ended (an operator's cancel wins)."""
    if counts.get(JobStatus.CANCELLED):
        return BatchStatus.CANCELLED
    succeeded = counts.get(JobStatus.SUCCEEDED, 0)
    failed = counts.get(JobStatus.FAILED, 0)
    if failed and succeeded:
        return BatchStatus.PARTIAL
    if failed:
        return BatchStatus.FAILED
    if succeeded or not counts:
        return BatchStatus.SUCCEEDED
    return BatchStatus.CANCELLED
