"""Retention: the batches that ended long enough ago to go, and the removal of their rows.

Only an ended batch (succeeded, partial, failed, cancelled) goes, never one queued, running or
paused; its end is ``finished_at`` (``created_at`` for a batch that ended without one). The rows go
in one transaction that takes the batches' row locks, the lock an operator's retry takes, so a
batch retried meanwhile stays. The stored objects and upload folders they leave are recorded as
:class:`PendingDeletion` rows in the same transaction and removed after it commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Artifact,
    Attempt,
    Batch,
    Job,
    JobDependency,
    PendingDeletion,
    ScheduleFiring,
    Tally,
    utcnow,
)
from audiobatch.db.tallies import JOBS, OUTPUT_BYTES, OUTPUTS, kept

T = TypeVar("T")
OBJECT, FOLDER = "object", "folder"
CHUNK = 500  # ids or keys per IN list: well under every backend's limit on bound parameters


@dataclass(frozen=True)
class ExpiredBatch:
    """An ended batch older than the cutoff, and what its rows hold."""

    id: str
    name: str
    status: str
    ended_at: datetime
    jobs: int
    outputs: int
    output_bytes: int
    source_roots: list[str]


@dataclass(frozen=True)
class Pending:
    """An object or folder of a pruned batch still to remove."""

    id: int
    kind: str  # object | folder
    target: str
    batch_id: str


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    return Batch.status.in_(TERMINAL_BATCH_STATUSES) & (
        func.coalesce(Batch.finished_at, Batch.created_at) < cutoff
    )


def expired_batches(session: Session, cutoff: datetime) -> list[ExpiredBatch]:
    """The ended batches whose end is before ``cutoff``, the oldest first."""
    ended = func.coalesce(Batch.finished_at, Batch.created_at)
    jobs, outputs, output_bytes = kept(prefix=JOBS), kept(OUTPUTS), kept(OUTPUT_BYTES)
    rows = session.execute(
        select(Batch, ended, jobs, outputs, output_bytes)
        .where(_expired(cutoff))
        .order_by(ended, Batch.id)
    )
    return [
        ExpiredBatch(
            id=batch.id,
            name=batch.name,
            status=batch.status.value,
            ended_at=ended_at,
            jobs=job_count,
            outputs=output_count,
            output_bytes=int(size),
            source_roots=list(batch.source_roots or []),
        )
        for batch, ended_at, job_count, output_count, size in rows
    ]


def keys_kept(session: Session, keys: Collection[str], besides: Collection[str]) -> set[str]:
    """The ``keys`` that an output row of a batch not in ``besides`` points at: objects another
    batch still needs, whoever stored them."""
    listed, kept = sorted(keys), set[str]()
    for start in range(0, len(listed), CHUNK):
        query = select(Artifact.key).where(Artifact.key.in_(listed[start : start + CHUNK]))
        for ids in _chunks(besides):
            query = query.where(Artifact.batch_id.not_in(ids))
        kept.update(session.scalars(query))
    return kept


def delete_batches(session: Session, batch_ids: Collection[str], cutoff: datetime) -> list[str]:
    """Delete the rows of those of ``batch_ids`` still expired at ``cutoff`` (under their row
    locks) and of everything referring to them; the ids deleted."""
    gone: list[str] = []
    for ids in _chunks(batch_ids):
        gone.extend(
            session.scalars(
                select(Batch.id).where(Batch.id.in_(ids), _expired(cutoff)).with_for_update()
            )
        )
    for ids in _chunks(gone):
        jobs = select(Job.id).where(Job.batch_id.in_(ids))
        session.execute(delete(Attempt).where(Attempt.batch_id.in_(ids)))
        session.execute(delete(Artifact).where(Artifact.batch_id.in_(ids)))
        session.execute(
            delete(JobDependency).where(
                or_(JobDependency.job_id.in_(jobs), JobDependency.parent_id.in_(jobs))
            )
        )
        # an episode's parts name their episode's job: the parts go first
        session.execute(delete(Job).where(Job.batch_id.in_(ids), Job.part_of.is_not(None)))
        session.execute(delete(Job).where(Job.batch_id.in_(ids)))
        session.execute(
            update(ScheduleFiring).where(ScheduleFiring.batch_id.in_(ids)).values(batch_id=None)
        )
        session.execute(delete(Batch).where(Batch.id.in_(ids)))
        # their tallies, with the deltas the deletes above appended to them
        session.execute(delete(Tally).where(Tally.batch_id.in_(ids)))
    return gone


def record_pending(session: Session, batch_id: str, kind: str, targets: Iterable[str]) -> None:
    """Note the objects or folders of pruned batch ``batch_id`` still to remove."""
    rows = [
        {"kind": kind, "target": target, "batch_id": batch_id, "created_at": utcnow()}
        for target in targets
    ]
    if rows:
        session.execute(insert(PendingDeletion), rows)


def pending(session: Session) -> list[Pending]:
    """Every object and folder of pruned batches not removed yet, in the order recorded."""
    rows = session.scalars(select(PendingDeletion).order_by(PendingDeletion.id))
    return [Pending(row.id, row.kind, row.target, row.batch_id) for row in rows]


def forget_pending(session: Session, ids: Collection[int]) -> None:
    """The removals ``ids`` are done."""
    for chunk in _chunks(ids):
        session.execute(delete(PendingDeletion).where(PendingDeletion.id.in_(chunk)))


def _chunks(values: Collection[T]) -> Iterable[list[T]]:
    listed = list(values)
    return (listed[start : start + CHUNK] for start in range(0, len(listed), CHUNK))
