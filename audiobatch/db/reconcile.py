"""The reconciler tick: brings SQL and the broker back in step.

It re-queues retries whose wait is over and jobs whose worker lost its lease; queues pending jobs
whose parents have all succeeded and fails those whose parent failed (a backstop: their parents'
finishers do it, unless they die first); pauses batches that have spent their character budget
and resumes those the account's quota paused once it has been reset (when they asked to);
records the ``batch.failure_threshold`` webhook event of batches whose failed jobs reached it;
publishes a wake-up for every queued job that has none (never published, or whose message the
broker no longer holds: see :func:`lost_wakeups`); ends batches whose last job's worker died
before it could; folds the kept counts' deltas (:func:`audiobatch.db.tallies.fold`); and writes
the ``results.json`` an unreachable store kept from being written at a batch's end. Running it
twice at once is harmless: duplicate wake-ups lose their claim, a batch ends in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from audiobatch.db import jobs, operations, tallies, webhooks
from audiobatch.db.batches import batches_due_to_resume, end_batch_if_done, pause_over_budget
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    UNENDED_BATCH_STATUSES,
    UNENDED_JOB_STATUSES,
    Batch,
    Job,
    JobStatus,
    status_in,
)
from audiobatch.db.reports import write_results
from audiobatch.db.session import session_scope
from audiobatch.errors import StorageError
from audiobatch.storage import Storage

log = logging.getLogger(__name__)

Publish = Callable[[list[tuple[int, str]]], None]
"""Sends one wake-up per (job id, queue)."""

PUBLISH_CHUNK = 2000


@dataclass(frozen=True)
class TickResult:
    retries_due: int
    leases_expired: int
    published: int
    batches_ended: int
    budgets_reached: int = 0
    resumed_at_reset: int = 0  # jobs of quota-paused batches queued again at the quota's reset
    pending_promoted: int = 0
    pending_failed: int = 0


def tick(
    database_url: str,
    publish: Publish,
    storage: Storage,
    now: datetime,
    republish_after_s: float,
    max_lost_leases: int,
    depths: Mapping[str, int] | None = None,
    backstop: bool = True,
) -> TickResult:
    """One pass of the reconciler; ``depths`` are the wake-ups waiting in each job queue, read
    from the broker after ``now`` (a queue left out: the broker could not tell). Without
    ``backstop``, pending jobs are left to their parents' finishers: looking at each pending
    job's parents is most of a tick's work, and is needed only when a finisher died."""
    with session_scope(database_url) as session:
        retries = jobs.requeue_due(session, now)
        expired = jobs.take_back_expired(session, now, max_lost_leases)
        promoted = len(jobs.promote_ready(session)) if backstop else 0
        orphans = jobs.fail_orphans(session, now) if backstop else 0
        # workers check the budget as they record attempts (one at a time per batch); this
        # catches spend recorded without that check
        over_budget = pause_over_budget(session)
        reset = resume_at_reset(session, now)
        for batch_id in webhooks.batches_watching_failures(session):
            webhooks.note_failure_threshold(session, batch_id, now)
        finished = batches_with_every_job_ended(session)
        unreported = batches_without_results(session)
    with session_scope(database_url) as session:
        tallies.fold(session)
    if promoted or orphans:
        log.warning(
            "reconciler: %d pending job(s) queued, their parents having all succeeded; "
            "%d failed, a parent having failed (their finishers did not)",
            promoted,
            orphans,
        )
    if reset:
        log.info(
            "reconciler: %d job(s) of quota-paused batches resumed at the quota's reset", reset
        )
    published = publish_queued(database_url, publish, now, depths or {}, republish_after_s)
    ended = sum(end_batch(database_url, storage, batch_id, now) for batch_id in finished)
    for batch_id in unreported:
        report_batch(database_url, storage, batch_id, now)
    return TickResult(
        retries_due=retries,
        leases_expired=expired,
        published=published,
        batches_ended=ended,
        budgets_reached=over_budget,
        resumed_at_reset=reset,
        pending_promoted=promoted,
        pending_failed=orphans,
    )


def resume_at_reset(session: Session, now: datetime) -> int:
    """Resume the quota-paused batches whose ``resume_at`` has come; how many jobs went back to
    the queue. A batch the quota pauses again gets the next reset's time."""
    return sum(operations.resume(session, batch) for batch in batches_due_to_resume(session, now))


def end_batch(database_url: str, storage: Storage, batch_id: str, now: datetime) -> bool:
    """End the batch if none of its jobs is left to run, and write its ``results.json``.

    Call it after a job's end is committed; True when this call ended the batch.
    """
    with session_scope(database_url) as session:
        status = end_batch_if_done(session, batch_id, now)
    if status is None:
        return False
    log.info("batch %s: %s", batch_id, status)
    report_batch(database_url, storage, batch_id, now)
    return True


def report_batch(database_url: str, storage: Storage, batch_id: str, now: datetime) -> None:
    """Write an ended batch's ``results.json`` and note that it is written. If the store is
    unreachable, the reconciler tries again at its next pass (see :func:`batches_without_results`)."""
    try:
        with session_scope(database_url) as session:
            stored = write_results(session, storage, batch_id)
            session.execute(update(Batch).where(Batch.id == batch_id).values(results_at=now))
    except StorageError as exc:
        log.warning("batch %s: results.json not written yet: %s", batch_id, exc)
        return
    log.info("batch %s: results at %s", batch_id, stored.uri)


def batches_without_results(session: Session) -> list[str]:
    """Ended batches whose ``results.json`` could not be written when they ended."""
    query = select(Batch.id).where(
        status_in(Batch.status, TERMINAL_BATCH_STATUSES), Batch.results_at.is_(None)
    )
    return list(session.scalars(query))


def batches_with_every_job_ended(session: Session) -> list[str]:
    """Unended batches none of whose jobs is left to run (their last finisher died first)."""
    unfinished = exists().where(
        Job.batch_id == Batch.id, status_in(Job.status, UNENDED_JOB_STATUSES)
    )
    query = select(Batch.id).where(status_in(Batch.status, UNENDED_BATCH_STATUSES), ~unfinished)
    return list(session.scalars(query))


def publish_queued(
    database_url: str,
    publish: Publish,
    now: datetime,
    depths: Mapping[str, int] | None = None,
    republish_after_s: float | None = None,
) -> int:
    """Announce queued jobs that need a wake-up, in chunks, marking each chunk once sent.

    Without ``depths`` only jobs never announced are; with them (the reconciler), also jobs whose
    wake-up the broker lost (see :func:`lost_wakeups`).
    """
    total = 0
    lost = lost_wakeups(database_url, now, depths, republish_after_s) if depths is not None else []
    while True:
        with session_scope(database_url) as session:
            due = never_announced(session, PUBLISH_CHUNK)
        if not due:
            break
        total += _announce(database_url, publish, due, now)
    for start in range(0, len(lost), PUBLISH_CHUNK):
        total += _announce(database_url, publish, lost[start : start + PUBLISH_CHUNK], now)
    return total


def _announce(
    database_url: str, publish: Publish, due: list[tuple[int, str]], now: datetime
) -> int:
    publish(due)
    with session_scope(database_url) as session:
        mark_published(session, [job_id for job_id, _ in due], now)
    return len(due)


QUEUED = status_in(Job.status, {JobStatus.QUEUED})
SETTLE_S = 15.0
"""A wake-up this recent may still be on its way to a worker that takes it: never taken for lost."""


def never_announced(session: Session, limit: int) -> list[tuple[int, str]]:
    query = (
        select(Job.id, Job.queue)
        .where(QUEUED, Job.published_at.is_(None))
        .order_by(Job.id)
        .limit(limit)
    )
    return [(job_id, queue) for job_id, queue in session.execute(query)]


def lost_wakeups(
    database_url: str, now: datetime, depths: Mapping[str, int], republish_after_s: float | None
) -> list[tuple[int, str]]:
    """Queued jobs announced before ``now`` whose wake-up the broker likely lost.

    The broker holds one message per announced queued job, unless it lost some (it restarted
    empty, a worker that took them froze or died before claiming): a queue that holds ``d``
    messages while ``n > d`` of its queued jobs were announced lost ``n - d`` of them, and the
    ``n - d`` announced longest ago are announced again. Should one of them still be in the
    queue, its second wake-up costs a claim that fails. A job is never announced again merely
    because it waits, so a backlog that drains slowly holds one wake-up per job. Where the broker
    cannot tell a queue's depth (left out of ``depths``), a wake-up older than
    ``republish_after_s`` is taken for lost.
    """
    settled = now - timedelta(seconds=SETTLE_S)
    lost: list[tuple[int, str]] = []
    with session_scope(database_url) as session:
        for queue in session.scalars(select(Job.queue).where(QUEUED).distinct()):
            announced = (QUEUED, Job.queue == queue)
            if queue in depths:
                count = select(func.count()).where(*announced, Job.published_at < now)
                missing = (session.scalar(count) or 0) - depths[queue]
                cutoff = settled
            elif republish_after_s is not None:
                missing, cutoff = None, now - timedelta(seconds=republish_after_s)
            else:
                continue
            if missing is not None and missing <= 0:
                continue
            oldest = (
                select(Job.id, Job.queue)
                .where(*announced, Job.published_at < cutoff)
                .order_by(Job.published_at, Job.id)
                .limit(missing)
            )
            lost.extend((job_id, q) for job_id, q in session.execute(oldest))
    return lost


def mark_published(session: Session, job_ids: list[int], now: datetime) -> None:
    session.execute(update(Job).where(Job.id.in_(job_ids)).values(published_at=now))
