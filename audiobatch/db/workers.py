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

from audiobatch.db.models import TERMINAL_JOB_STATUSES, Job, WorkerProcess
from audiobatch.db.session import rows_affected
from audiobatch.render.families import FAMILIES

HEARTBEAT_INTERVAL_S = 5.0
LIVE_WITHIN_S = 3 * HEARTBEAT_INTERVAL_S
"""A process whose last heartbeat is older than this is not live (killed, hung or cut off)."""
KEEP_S = 7 * 24 * 3600.0
"""Rows of processes stopped or unseen for this long are pruned."""

WORKER, SCHEDULER = "worker", "scheduler"
JOB_QUEUES = frozenset(family.queue for family in FAMILIES.values())


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


def unserved_queues(session: Session, batch_ids: Sequence[str], now: datetime) -> list[str]:
    """The queues that jobs of ``batch_ids`` not yet ended wait on and no live worker serves."""
    served = served_queues(session, now)
    if served >= JOB_QUEUES:  # the usual fleet: no need to look at the jobs
        return []
    return list(
        session.scalars(
            select(Job.queue)
            .where(
                Job.batch_id.in_(batch_ids),
                Job.status.not_in(TERMINAL_JOB_STATUSES),
                Job.queue.not_in(served),
            )
            .distinct()
            .order_by(Job.queue)
        )
    )


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
    }
