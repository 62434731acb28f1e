"""Which queued job a wake-up claims: the most urgent batch's, shared fairly between batches.

A wake-up is a message for one job, but the broker delivers them in the order they were sent,
and a batch submitted behind a backlog would wait for the whole backlog's messages. So a
wake-up of queue ``q`` claims a job of ``q`` chosen here, not necessarily its own:

- the batch of the highest priority (:mod:`audiobatch.priorities`) with a job of ``q`` queued;
- among batches of that priority, the one with the fewest jobs running (round-robin: the
  account's concurrency is shared equally between them), the older batch on a tie;
- in that batch, the wake-up's own job if it is queued there, else the batch's oldest queued job.

The broker still holds one message per queued job: a message that claims another job leaves its
own job queued, and that job's claim comes with the message of the job taken in its place
(which then finds it, or the best job at that time). A message that finds nothing queued in its
queue claims nothing. Jobs already running are never interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from audiobatch.db import jobs
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, status_in

CLAIM_TRIES = 5
"""Jobs a wake-up tries to claim before it gives up: each other try lost a race to a worker
that claimed the same job a moment before."""


@dataclass(frozen=True)
class _Rank:
    batch_id: str
    priority: int
    running: int


_OF_HINT = select(Job.queue, Job.batch_id, Job.status).where(Job.id == bindparam("job"))
_RUNNING = (
    select(func.count())
    .where(Job.batch_id == Batch.id, Job.status == JobStatus.RUNNING)
    .correlate(Batch)
    .scalar_subquery()
)
_RANKED = (
    select(Batch.id, Batch.priority, _RUNNING)
    .where(
        status_in(Batch.status, {BatchStatus.QUEUED, BatchStatus.RUNNING}),
        exists().where(
            Job.batch_id == Batch.id,
            Job.queue == bindparam("queue"),
            Job.status == JobStatus.QUEUED,
        ),
    )
    .order_by(Batch.priority.desc(), _RUNNING, Batch.created_at, Batch.id)
)
_OLDEST_QUEUED = (
    select(Job.id)
    .where(
        Job.batch_id == bindparam("batch"),
        Job.queue == bindparam("queue"),
        Job.status == JobStatus.QUEUED,
    )
    .order_by(Job.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def claim_next(
    session: Session, hint: int, worker: str, lease_s: float, now: datetime
) -> jobs.Claim | None:
    """Claim the job the wake-up of job ``hint`` should start (see the module note); None when
    its queue has no job queued, or other workers took every one tried."""
    row = session.execute(_OF_HINT, {"job": hint}).one_or_none()
    if row is None:
        return None
    queue, hint_batch, hint_status = row
    ranked = [_Rank(*r) for r in session.execute(_RANKED, {"queue": queue})]
    if not ranked:
        return None
    best = ranked[0]
    tied = {r.batch_id for r in ranked if (r.priority, r.running) == (best.priority, best.running)}
    tries = CLAIM_TRIES
    if hint_status is JobStatus.QUEUED and hint_batch in tied:
        claimed = jobs.claim(session, hint, worker, lease_s, now)
        if claimed is not None:
            return claimed
        tries -= 1
    for rank in ranked:
        while tries > 0:
            job_id = session.scalar(_OLDEST_QUEUED, {"batch": rank.batch_id, "queue": queue})
            if job_id is None:
                break
            claimed = jobs.claim(session, job_id, worker, lease_s, now)
            if claimed is not None:
                return claimed
            tries -= 1
    return None
