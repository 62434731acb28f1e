"""Process heartbeats: every worker and scheduler process keeps a row in ``workers`` up to date,
so anyone reading SQL knows which processes are alive and which queues they serve.

A process is live while its last heartbeat is recent (:data:`LIVE_WITHIN_S`) and it has not
stopped cleanly; a killed process simply stops being seen. Rows long gone are pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from audiobatch.db.models import TERMINAL_JOB_STATUSES, Job, JobStatus, WorkerProcess
from audiobatch.db.session import rows_affected
from audiobatch.render.families import FAMILIES

HEARTBEAT_INTERVAL_S = 5.0
LIVE_WITHIN_S = 3 * HEARTBEAT_INTERVAL_S
"""A process whose last heartbeat is older than this is not live (killed, hung or cut off)."""
KEEP_S = 7 * 24 * 3600.0
"""Rows of processes stopped or unseen for this long are pruned."""

WORKER, SCHEDULER = "worker", "scheduler"
JOB_QUEUES = frozenset(family.queue for family in FAMILIES.values())
UNENDED_JOB_STATUSES = frozenset(set(JobStatus) - TERMINAL_JOB_STATUSES)
"""Asked for with IN rather than NOT IN, a query over every batch can use the status indexes."""


@dataclass(frozen=True)
class Announcement:
    """What a process says of itself in every heartbeat (all but the jobs it holds)."""

    id: str  # the process identity: host, pid and a random part
    host: str
    pid: int
    role: str  # worker | scheduler
    queues: Sequence[str]
    concurrency: int
    version: str
    started_at: datetime


def heartbeat(
    session: Session, me: Announcement, jobs_in_hand: Iterable[int], now: datetime
) -> None:
    """Record that ``me`` is alive at ``now`` holding ``jobs_in_hand``: an upsert of its row (a
    row marked stopped stays stopped, whatever a late heartbeat says)."""
    held = sorted(jobs_in_hand)
    # only this process writes its row, so an update that finds none can insert without a race
    found = session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == me.id)
        .values(last_seen_at=now, jobs_in_hand=held)
    )
    if rows_affected(found):
        return
    row = {**asdict(me), "queues": list(me.queues)}
    session.execute(
        insert(WorkerProcess).values(**row, jobs_in_hand=held, last_seen_at=now, stopped_at=None)
    )


def mark_stopped(session: Session, worker_id: str, now: datetime) -> None:
    """A clean exit: the process holds nothing and is no longer live."""
    session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(stopped_at=now, last_seen_at=now, jobs_in_hand=[])
    )


def prune(session: Session, now: datetime, keep_s: float = KEEP_S) -> int:
    """Delete the rows of processes stopped or unseen for ``keep_s``; how many went."""
    cutoff = now - timedelta(seconds=keep_s)
    gone = or_(WorkerProcess.last_seen_at < cutoff, WorkerProcess.stopped_at < cutoff)
    return rows_affected(session.execute(delete(WorkerProcess).where(gone)))


def is_live(row: WorkerProcess, now: datetime) -> bool:
    """Whether the process was seen within :data:`LIVE_WITHIN_S` and has not stopped."""
    return row.stopped_at is None and now - row.last_seen_at <= timedelta(seconds=LIVE_WITHIN_S)


def list_workers(session: Session) -> list[WorkerProcess]:
    """Every process still on record, the most recently seen first."""
    return list(
        session.scalars(
            select(WorkerProcess).order_by(WorkerProcess.last_seen_at.desc(), WorkerProcess.id)
        )
    )


def live_at(now: datetime) -> ColumnElement[bool]:
    """In a query of ``WorkerProcess``: the process is live at ``now`` (see :func:`is_live`)."""
    return and_(
        WorkerProcess.stopped_at.is_(None),
        WorkerProcess.last_seen_at >= now - timedelta(seconds=LIVE_WITHIN_S),
    )


def served_queues(session: Session, now: datetime) -> set[str]:
    """The queues some live worker process consumes."""
    live = session.scalars(select(WorkerProcess).where(WorkerProcess.role == WORKER, live_at(now)))
    return {queue for row in live for queue in row.queues}


def scheduler_live(session: Session, now: datetime) -> bool:
    """Whether some live scheduler process would fire the schedules."""
    query = select(WorkerProcess.id).where(WorkerProcess.role == SCHEDULER, live_at(now))
    return session.scalar(query.limit(1)) is not None


def unserved_queues(session: Session, batch_ids: Sequence[str] | None, now: datetime) -> list[str]:
    """The queues that jobs not yet ended (of ``batch_ids``, or of any batch for None) wait on
    and no live worker serves."""
    served = served_queues(session, now)
    if served >= JOB_QUEUES:  # the usual fleet: no need to look at the jobs
        return []
    query = select(Job.queue).where(Job.status.in_(UNENDED_JOB_STATUSES), Job.queue.not_in(served))
    if batch_ids is not None:
        query = query.where(Job.batch_id.in_(batch_ids))
    return list(session.scalars(query.distinct().order_by(Job.queue)))


def jobs_in_hand_by_pool(session: Session, now: datetime) -> dict[str, int]:
    """How many jobs the live workers hold, by the limiter pool each job's kind draws from."""
    held = [
        job_id
        for row in session.scalars(select(WorkerProcess).where(live_at(now)))
        for job_id in row.jobs_in_hand
    ]
    counts = dict.fromkeys(sorted({family.pool for family in FAMILIES.values()}), 0)
    if held:
        for kind in session.scalars(select(Job.kind).where(Job.id.in_(held))):
            counts[FAMILIES[kind].pool] += 1
    return counts


def state_of(row: WorkerProcess, now: datetime) -> str:
    """``live``; ``stopped`` after a clean exit; ``gone`` when it went silent (killed, hung)."""
    if is_live(row, now):
        return "live"
    return "stopped" if row.stopped_at is not None else "gone"


def ago(seconds: float) -> str:
    """A time ``seconds`` in the past, as people say it."""
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def fleet_view(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every process on record in the :func:`worker_view` shape: the live first, and within each,
    the most recently seen first."""
    return sorted((worker_view(row, now) for row in list_workers(session)), key=_not_live)


def _not_live(view: dict[str, Any]) -> bool:
    return not view["live"]


def worker_view(row: WorkerProcess, now: datetime) -> dict[str, Any]:
    """The ``workers --json`` shape of one process."""
    return {
        "id": row.id,
        "host": row.host,
        "pid": row.pid,
        "role": row.role,
        "queues": row.queues,
        "concurrency": row.concurrency,
        "jobs_in_hand": row.jobs_in_hand,
        "version": row.version,
        "started_at": row.started_at.isoformat(),
        "last_seen_at": row.last_seen_at.isoformat(),
        "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
        "live": is_live(row, now),
        "state": state_of(row, now),
    }
