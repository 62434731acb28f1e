"""Filtered, paginated lists of batches and jobs, and one job in full: the dashboard's reads.

Each list is two statements (the page and its total) plus one per relation it shows, never one
per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from audiobatch.db.costs import NO_COSTS, Costs, batch_costs, costs_of_jobs
from audiobatch.db.models import (
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
    Schedule,
)
from audiobatch.db.reports import (
    Episodes,
    PauseReasons,
    batch_counts,
    batch_summary,
    job_view,
    pause_reasons,
)
from audiobatch.db.tags import tagged, tags_of
from audiobatch.errors import NotFoundError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the size of the whole list."""

    items: list[T]
    total: int
    page: int  # from 1
    per_page: int


@dataclass(frozen=True)
class BatchFilter:
    statuses: Sequence[BatchStatus] = ()
    name: str | None = None  # part of the name, any case
    schedule: str | None = None  # the name of the schedule that fired it
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    tag: str | None = None  # a tag it carries


@dataclass(frozen=True)
class JobFilter:
    batch_id: str | None = None
    statuses: Sequence[JobStatus] = ()
    kinds: Sequence[str] = ()
    error_codes: Sequence[str] = field(default_factory=tuple)  # the error class of a failure
    parts: bool = True  # False: leave episodes' parts out (see find_parts)


def _paged(session: Session, query: Select[T], page: int, per_page: int) -> Page[T]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)


def find_batches(session: Session, flt: BatchFilter, page: int, per_page: int) -> Page[Batch]:
    """Batches matching ``flt``, newest first."""
    query = select(Batch).options(selectinload(Batch.schedule))
    if flt.statuses:
        query = query.where(Batch.status.in_(flt.statuses))
    if flt.name:
        query = query.where(Batch.name.icontains(flt.name, autoescape=True))
    if flt.schedule:
        query = query.join(Schedule, Schedule.id == Batch.schedule_id).where(
            Schedule.name == flt.schedule
        )
    if flt.since is not None:
        query = query.where(Batch.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(Batch.created_at < flt.until)
    if flt.tag:
        query = query.where(tagged(flt.tag))
    return _paged(session, query.order_by(Batch.created_at.desc(), Batch.id), page, per_page)


def batch_summaries(session: Session, batches: Sequence[Batch]) -> list[dict[str, Any]]:
    """:func:`~audiobatch.db.reports.batch_summary` of many batches, their counts, costs and
    tags each read in one query."""
    ids = [b.id for b in batches]
    counts, costs, tags = (
        batch_counts(session, ids),
        batch_costs(session, ids),
        tags_of(session, ids),
    )
    return [batch_summary(session, b, counts[b.id], costs[b.id], tags[b.id]) for b in batches]


def find_jobs(session: Session, flt: JobFilter, page: int, per_page: int) -> Page[Job]:
    """Jobs matching ``flt`` in the order they were submitted, with their outputs."""
    query = select(Job).options(selectinload(Job.artifacts))
    if flt.batch_id is not None:
        query = query.where(Job.batch_id == flt.batch_id)
    if flt.statuses:
        query = query.where(Job.status.in_(flt.statuses))
    if flt.kinds:
        query = query.where(Job.kind.in_(flt.kinds))
    if flt.error_codes:
        query = query.where(Job.error_code.in_(flt.error_codes))
    if not flt.parts:
        query = query.where(Job.part_of.is_(None))
    return _paged(session, query.order_by(Job.id), page, per_page)


def find_parts(session: Session, episode_ids: Sequence[int]) -> list[Job]:
    """The parts of these episodes, in order, with their outputs."""
    if not episode_ids:
        return []
    query = select(Job).options(selectinload(Job.artifacts)).where(Job.part_of.in_(episode_ids))
    return list(session.scalars(query.order_by(Job.id)))


def error_codes(session: Session, batch_id: str) -> list[str]:
    """The error classes the batch's jobs ended or wait with (for a filter's choices)."""
    return list(
        session.scalars(
            select(Job.error_code)
            .where(Job.batch_id == batch_id, Job.error_code.is_not(None))
            .distinct()
            .order_by(Job.error_code)
        )
    )


def find_job(session: Session, job_id: int) -> Job:
    """A job by its database id, with its batch, attempts and outputs loaded."""
    job = session.scalars(
        select(Job)
        .where(Job.id == job_id)
        .options(
            selectinload(Job.attempt_rows),
            selectinload(Job.artifacts),
            selectinload(Job.batch),
        )
    ).first()
    if job is None:
        raise NotFoundError(f"no job with id {job_id}")
    return job


def job_rows(session: Session, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Jobs in a list: :func:`~audiobatch.db.reports.job_view` with each one's database id,
    batch, error class and times."""
    episodes = Episodes.among(session, jobs)
    costs = costs_of_jobs(session, [job.id for job in jobs])
    pauses = pause_reasons(session, jobs)
    return [_job_row(job, episodes, costs.get(job.id, NO_COSTS), pauses) for job in jobs]


def _job_row(job: Job, episodes: Episodes, costs: Costs, pauses: PauseReasons) -> dict[str, Any]:
    return {
        **job_view(job, episodes, costs, pauses),
        "job_id": job.id,
        "batch_id": job.batch_id,
        "error_code": job.error_code,
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def job_detail(session: Session, job: Job) -> dict[str, Any]:
    """One job in full: its request, the jobs it reads from, every attempt, its outputs."""
    parents = session.scalars(
        select(Job.key)
        .join(JobDependency, JobDependency.parent_id == Job.id)
        .where(JobDependency.job_id == job.id)
        .order_by(Job.key)
    )
    return {
        **job_rows(session, [job])[0],
        "batch_name": job.batch.name,
        "request": job.spec,
        "depends_on": list(parents),
        "cached_from": job.cached_from,
        "next_attempt_at": _iso(job.next_attempt_at),
        "attempt_log": [attempt_view(a) for a in job.attempt_rows],
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": attempt.started_at.isoformat(),
        "finished_at": attempt.finished_at.isoformat(),
        "outcome": attempt.outcome,
        "http_status": attempt.http_status,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "request_id": attempt.request_id,
        "latency_ms": attempt.latency_ms,
        "character_cost": attempt.character_cost,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def find_output(session: Session, batch_id: str, job_key: str, name: str) -> tuple[Batch, Artifact]:
    """The batch and its job's output ``name``; NotFoundError when either does not exist."""
    row = session.execute(
        select(Batch, Artifact)
        .join(Job, Job.batch_id == Batch.id)
        .join(Artifact, Artifact.job_id == Job.id)
        .where(Batch.id == batch_id, Job.key == job_key, Artifact.name == name)
    ).first()
    if row is None:
        raise NotFoundError(f"batch {batch_id!r} has no output {job_key}/{name}")
    batch, artifact = row
    return batch, artifact
