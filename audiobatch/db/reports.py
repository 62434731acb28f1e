"""Read models for the CLI, the dashboard and ``results.json``: plain dicts in the public shapes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from audiobatch.db.costs import NO_COSTS, Costs, batch_costs, job_costs
from audiobatch.db.models import Artifact, Batch, BatchStatus, Job, JobStatus
from audiobatch.db.tags import tagged, tags_of
from audiobatch.db.tallies import batch_tallies
from audiobatch.errors import NotFoundError
from audiobatch.priorities import priority_name
from audiobatch.storage import Storage, StoredObject


def find_batch(session: Session, ref: str) -> Batch:
    """A batch by id, unique id prefix, or name (the newest of that name). Every character of
    ``ref`` stands for itself: ``%`` and ``_`` are no wildcards."""
    if not ref:
        raise NotFoundError("no batch given: name one by id, id prefix or name")
    batch = session.get(Batch, ref)
    if batch is not None:
        return batch
    by_name = session.scalars(
        select(Batch).where(Batch.name == ref).order_by(Batch.created_at.desc()).limit(1)
    ).first()
    if by_name is not None:
        return by_name
    prefixed = list(
        session.scalars(select(Batch).where(Batch.id.startswith(ref, autoescape=True)).limit(2))
    )
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise NotFoundError(f"batch id prefix {ref!r} is ambiguous: give more characters")
    raise NotFoundError(f"no batch with id or name {ref!r} (see `audiobatch status`)")


def job_counts(session: Session, batch_id: str) -> dict[str, int]:
    """Every status with its count of the batch's jobs, zeros included (the ``counts`` shape)."""
    return batch_counts(session, [batch_id])[batch_id]


def batch_counts(session: Session, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """:func:`job_counts` of many batches, as kept (:mod:`audiobatch.db.tallies`)."""
    return {batch_id: kept.counts for batch_id, kept in batch_tallies(session, batch_ids).items()}


def batch_summary(
    session: Session,
    batch: Batch,
    counts: dict[str, int] | None = None,
    costs: Costs | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """A batch without its jobs: id, name, status, tags, counts, times, the schedule and slot it
    was fired for, the backend that rendered it, what it cost and may spend (``counts``,
    ``costs`` and ``tags``, when given, are its :func:`job_counts`, :func:`batch_costs` and
    :func:`~audiobatch.db.tags.tags_of` read beforehand)."""
    if costs is None:
        costs = batch_costs(session, [batch.id])[batch.id]
    if tags is None:
        tags = tags_of(session, [batch.id])[batch.id]
    return {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status.value,
        "reason": batch.status_reason,
        "tags": tags,
        "priority": priority_name(batch.priority),
        "account": batch.account,  # the registered account whose key renders it
        "source": batch.source,
        "created_at": batch.created_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "counts": job_counts(session, batch.id) if counts is None else counts,
        "schedule": batch.schedule.name if batch.schedule else None,  # the schedule that fired it
        "slot": batch.slot_at.isoformat() if batch.slot_at else None,
        "backend": batch.backend,  # "emulator", the API's base URL, "mixed"; None before outputs
        **costs.as_json(),
        "character_budget": batch.character_budget,
        "continue_at_reset": batch.continue_at_reset,  # None: as the deployment says
        # a batch the quota paused goes on by itself then (the account's next reset)
        "continues_at": batch.resume_at.isoformat() if batch.resume_at else None,
    }


@dataclass(frozen=True)
class Episodes:
    """A batch's episodes and their parts: each episode job's key, and how many of its parts
    have succeeded, of how many."""

    keys: dict[int, str]
    parts: dict[int, tuple[int, int]]

    @classmethod
    def of(cls, session: Session, batch_id: str) -> Episodes:
        """Every episode of the batch."""
        return cls._where(session, Job.batch_id == batch_id, Job.part_of.is_not(None))

    @classmethod
    def among(cls, session: Session, jobs: Sequence[Job]) -> Episodes:
        """What ``jobs`` (a page of a listing) need: their parts' counts, their episodes' keys."""
        ids = {job.id for job in jobs} | {job.part_of for job in jobs if job.part_of is not None}
        return cls._where(session, Job.part_of.in_(ids)) if ids else cls({}, {})

    @classmethod
    def _where(cls, session: Session, *conditions: ColumnElement[bool]) -> Episodes:
        done = func.count().filter(Job.status == JobStatus.SUCCEEDED)
        rows = session.execute(
            select(Job.part_of, done, func.count()).where(*conditions).group_by(Job.part_of)
        ).all()
        parts = {
            episode: (succeeded, total) for episode, succeeded, total in rows if episode is not None
        }
        if not parts:
            return cls({}, {})
        named = session.execute(select(Job.id, Job.key).where(Job.id.in_(list(parts))))
        keys: dict[int, str] = {row.id: row.key for row in named}
        return cls(keys, parts)


def job_view(
    job: Job, episodes: Episodes, costs: Costs = NO_COSTS, pauses: PauseReasons | None = None
) -> dict[str, Any]:
    """A job in the ``--json`` shape; an episode counts its parts (``parts``: done and total)
    and their costs, a part names its episode (``part_of``); ``loudness`` is what its loudness
    pass measured (its ``loudness.json``), None without one. A job waiting in a paused batch
    gives as its ``error`` why the batch paused (its last attempt's error is in its attempts)."""
    parts = episodes.parts.get(job.id)
    paused_because = pauses.get(job.batch_id) if pauses and job.status is JobStatus.PAUSED else None
    return {
        "id": job.key,
        "kind": job.kind,
        "status": job.status.value,
        "attempts": job.attempts,
        "cached": job.cached_from is not None,  # outputs reused from an identical request
        "error": paused_because or job.error,
        "outputs": [artifact_view(a) for a in job.artifacts],
        "part_of": episodes.keys.get(job.part_of) if job.part_of is not None else None,
        "parts": {"done": parts[0], "total": parts[1]} if parts else None,
        **costs.as_json(),
        "loudness": job.loudness,
    }


def job_views(
    session: Session, batch_id: str, status: JobStatus | None = None
) -> list[dict[str, Any]]:
    """The batch's jobs (those in ``status``) in the ``--json`` shape."""
    episodes, costs = Episodes.of(session, batch_id), job_costs(session, batch_id)
    jobs = list_jobs(session, batch_id, status)
    pauses = pause_reasons(session, jobs)
    return [job_view(job, episodes, costs.get(job.id, NO_COSTS), pauses) for job in jobs]


PauseReasons = dict[str, str]
"""Why each paused batch paused, by batch id."""


def pause_reasons(session: Session, jobs: Sequence[Job]) -> PauseReasons:
    """Why the paused batches of the paused ``jobs`` paused (one read, none when no job is)."""
    paused = {job.batch_id for job in jobs if job.status is JobStatus.PAUSED}
    if not paused:
        return {}
    rows = session.execute(
        select(Batch.id, Batch.status_reason).where(
            Batch.id.in_(paused), Batch.status == BatchStatus.PAUSED
        )
    )
    return {batch_id: reason for batch_id, reason in rows if reason}


def jobs_report(
    session: Session, batch: Batch, status: JobStatus | None = None
) -> list[dict[str, Any]]:
    """The ``jobs BATCH --json`` shape: :func:`job_views`, each with its batch's ``backend``."""
    return [{**view, "backend": batch.backend} for view in job_views(session, batch.id, status)]


def artifact_view(artifact: Artifact) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "uri": artifact.uri,
        "bytes": artifact.bytes,
        "sha256": artifact.sha256,
        "content_type": artifact.content_type,
    }


def list_jobs(session: Session, batch_id: str, status: JobStatus | None = None) -> list[Job]:
    query = (
        select(Job)
        .where(Job.batch_id == batch_id)
        .options(selectinload(Job.artifacts))
        .order_by(Job.id)
    )
    if status is not None:
        query = query.where(Job.status == status)
    return list(session.scalars(query))


def batch_report(session: Session, batch: Batch) -> dict[str, Any]:
    """The ``status BATCH --json`` shape: the summary plus every job with its outputs."""
    report = batch_summary(session, batch)
    report["jobs"] = job_views(session, batch.id)
    return report


def list_batches(session: Session, limit: int = 50, tag: str | None = None) -> list[Batch]:
    """The newest batches (those carrying ``tag``)."""
    query = select(Batch).order_by(Batch.created_at.desc()).limit(limit)
    return list(session.scalars(query if tag is None else query.where(tagged(tag))))


def results_key(name: str, batch_id: str) -> str:
    """Where a batch's ``results.json`` is stored: beside its outputs."""
    return f"{name}/{batch_id}/results.json"


def results_body(session: Session, batch: Batch) -> bytes:
    """``results.json`` of the batch as it stands: every job's status, attempts and outputs."""
    return json.dumps(batch_report(session, batch), indent=2).encode()


def write_results(session: Session, storage: Storage, batch_id: str) -> StoredObject:
    """Store ``results.json`` beside the batch's outputs: every job's status, attempts and outputs."""
    batch = session.get_one(Batch, batch_id)
    body = results_body(session, batch)
    stored = storage.write(results_key(batch.name, batch.id), [body], "application/json")
    storage.verify(stored)
    return stored
