"""The state's invariants, one query each: what ``audiobatch check`` verifies.

Each function returns the breaches it finds, one per row at fault, with the ids involved: the
row at fault first (a job id, a batch id, an artifact id), then the rows that make it a breach.
The queries start from active rows (``status IN`` the unended statuses, which the ``(status, ...)``
indexes of ``jobs`` and ``batches`` serve), never from the history, which may hold millions of
jobs; only :func:`kept_counts` and :func:`artifact_objects` read every row, in pages.

Some breaches are what the reconciler repairs at its next tick (an expired lease, a batch whose
last job's worker died): seen twice a tick apart, they are real.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, aliased

from audiobatch.db import tallies
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    UNENDED_JOB_STATUSES,
    Artifact,
    Batch,
    Job,
    JobDependency,
    JobStatus,
    WorkerProcess,
)
from audiobatch.db.reconcile import batches_with_every_job_ended
from audiobatch.db.session import session_scope
from audiobatch.db.workers import live_at
from audiobatch.storage import Storage

GIVEN_UP = [JobStatus.FAILED, JobStatus.CANCELLED]
ARTIFACT_PAGE = 1000
KEPT_PAGE = 20


@dataclass(frozen=True)
class Breach:
    """One row that breaks an invariant: which invariant, the ids involved, and what is wrong."""

    invariant: str
    ids: list[int | str]
    detail: str


def running_without_lease(session: Session, now: datetime) -> list[Breach]:
    """``running`` jobs whose lease has expired or was never set: no worker answers for them."""
    rows = session.execute(
        select(Job.id, Job.lease_owner, Job.lease_expires_at)
        .where(
            Job.status == JobStatus.RUNNING,
            or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
        )
        .order_by(Job.id)
    )
    return [
        Breach(
            "running_without_lease",
            [job_id],
            f"job {job_id} is running, held by {owner or 'no worker'}, "
            + ("with no lease" if expires is None else f"lease expired at {expires.isoformat()}"),
        )
        for job_id, owner, expires in rows
    ]


def pending_but_ready(session: Session) -> list[Breach]:
    """``pending`` jobs none of whose parents is left to succeed: nothing will ever queue them."""
    parent = aliased(Job)
    unfinished_parent = (
        exists()
        .where(JobDependency.job_id == Job.id)
        .where(parent.id == JobDependency.parent_id, parent.status != JobStatus.SUCCEEDED)
    )
    rows = session.scalars(
        select(Job.id).where(Job.status == JobStatus.PENDING, ~unfinished_parent).order_by(Job.id)
    )
    return [
        Breach("pending_but_ready", [job_id], f"job {job_id} is pending, its parents all succeeded")
        for job_id in rows
    ]


def pending_after_parent_gave_up(session: Session) -> list[Breach]:
    """``pending`` jobs with a parent that failed or was cancelled: they can never run, and
    should have failed with it (a retry of the parent makes them pending again)."""
    parent = aliased(Job)
    rows = session.execute(
        select(Job.id, parent.id, parent.status)
        .join(JobDependency, JobDependency.job_id == Job.id)
        .join(parent, parent.id == JobDependency.parent_id)
        .where(Job.status == JobStatus.PENDING, parent.status.in_(GIVEN_UP))
        .order_by(Job.id, parent.id)
    )
    parents: dict[int, list[tuple[int, JobStatus]]] = defaultdict(list)
    for job_id, parent_id, status in rows:
        parents[job_id].append((parent_id, status))
    return [
        Breach(
            "pending_after_parent_gave_up",
            [job_id, *(p for p, _ in given_up)],
            f"job {job_id} is pending, but its parent(s) "
            + ", ".join(f"{p} ({s.value})" for p, s in given_up)
            + " will not succeed",
        )
        for job_id, given_up in parents.items()
    ]


def ended_batch_with_unended_jobs(session: Session) -> list[Breach]:
    """Batches that have ended (succeeded, partial, failed, cancelled) with jobs still to run."""
    rows = session.execute(
        select(Batch.id, Batch.status, Job.id)
        .join(Batch, Batch.id == Job.batch_id)
        .where(Job.status.in_(UNENDED_JOB_STATUSES), Batch.status.in_(TERMINAL_BATCH_STATUSES))
        .order_by(Batch.id, Job.id)
    )
    jobs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for batch_id, status, job_id in rows:
        jobs[(batch_id, status.value)].append(job_id)
    return [
        Breach(
            "ended_batch_with_unended_jobs",
            [batch_id, *job_ids],
            f"batch {batch_id} is {status}, but {len(job_ids)} of its jobs have not ended",
        )
        for (batch_id, status), job_ids in jobs.items()
    ]


def unended_batch_without_jobs_left(session: Session) -> list[Breach]:
    """Batches that have not ended although every one of their jobs has."""
    return [
        Breach(
            "unended_batch_without_jobs_left",
            [batch_id],
            f"batch {batch_id} has not ended, but all its jobs have",
        )
        for batch_id in sorted(batches_with_every_job_ended(session))
    ]


def running_on_dead_worker(session: Session, now: datetime, lease_s: float) -> list[Breach]:
    """``running`` jobs, first claimed longer than a lease ago, whose lease owner has no live
    heartbeat: never seen in ``workers``, stopped, or last seen over LIVE_WITHIN_S ago."""
    live = select(WorkerProcess.id).where(live_at(now))
    rows = session.execute(
        select(Job.id, Job.lease_owner, WorkerProcess.last_seen_at, WorkerProcess.stopped_at)
        .outerjoin(WorkerProcess, WorkerProcess.id == Job.lease_owner)
        .where(
            Job.status == JobStatus.RUNNING,
            Job.started_at < now - timedelta(seconds=lease_s),
            or_(Job.lease_owner.is_(None), Job.lease_owner.not_in(live)),
        )
        .order_by(Job.id)
    )
    return [
        Breach(
            "running_on_dead_worker",
            [job_id, owner] if owner else [job_id],
            f"job {job_id} is running, held by {owner or 'no worker'}, "
            + _last_seen(last_seen_at, stopped_at),
        )
        for job_id, owner, last_seen_at, stopped_at in rows
    ]


def _last_seen(last_seen_at: datetime | None, stopped_at: datetime | None) -> str:
    if stopped_at is not None:
        return f"which stopped at {stopped_at.isoformat()}"
    if last_seen_at is None:
        return "which has never sent a heartbeat"
    return f"last seen at {last_seen_at.isoformat()}"


def state_breaches(session: Session, now: datetime, lease_s: float) -> list[Breach]:
    """Every breach of the SQL state's invariants (storage aside; see :func:`artifact_objects`)."""
    return [
        *running_without_lease(session, now),
        *running_on_dead_worker(session, now, lease_s),
        *pending_but_ready(session),
        *pending_after_parent_gave_up(session),
        *ended_batch_with_unended_jobs(session),
        *unended_batch_without_jobs_left(session),
    ]


def kept_counts(database_url: str, *, fix: bool = False) -> Iterator[Breach]:
    """Kept counts and sums (:mod:`audiobatch.db.tallies`) that differ from a recount of the
    rows, one breach per batch and figure; ``fix`` replaces the drifted batches' tallies with
    their recount. Reads every row of every batch, :data:`KEPT_PAGE` batches at a time, each page
    in one snapshot of its own."""
    after = ""
    while True:
        with session_scope(database_url) as session:
            tallies.snapshot(session)
            page = list(
                session.scalars(
                    select(Batch.id).where(Batch.id > after).order_by(Batch.id).limit(KEPT_PAGE)
                )
            )
            if not page:
                return
            found = tallies.repair(session, page) if fix else tallies.drift(session, page)
        for d in found:
            yield Breach(
                "kept_count_drift",
                [d.batch_id],
                f"batch {d.batch_id}: {d.name} kept as {d.kept}, counted {d.counted}"
                + (" (repaired)" if fix else ""),
            )
        after = page[-1]


def artifact_objects(database_url: str, storage: Storage) -> Iterator[Breach]:
    """Artifacts whose object is missing from storage or has another size than recorded.

    Reads the artifacts a page at a time, each page in a short transaction of its own, and asks
    the store for each object's size outside it (SQLite's writers are not held up meanwhile).
    """
    after = 0
    while True:
        with session_scope(database_url) as session:
            page = session.execute(
                select(Artifact.id, Artifact.job_id, Artifact.key, Artifact.bytes)
                .where(Artifact.id > after)
                .order_by(Artifact.id)
                .limit(ARTIFACT_PAGE)
            ).all()
        if not page:
            return
        for artifact_id, job_id, key, expected in page:
            found = storage.size(key)
            if found is None:
                yield Breach(
                    "object_missing",
                    [artifact_id, job_id],
                    f"artifact {artifact_id} of job {job_id}: {storage.uri(key)} is missing",
                )
            elif found != expected:
                yield Breach(
                    "object_size_differs",
                    [artifact_id, job_id],
                    f"artifact {artifact_id} of job {job_id}: {storage.uri(key)} holds "
                    f"{found} bytes, {expected} recorded",
                )
        after = page[-1].id
