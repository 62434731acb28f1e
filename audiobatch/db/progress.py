"""A batch's progress: counts, share done, ETA, characters spent and outputs stored.

The dashboard asks it every few seconds of batches of 100,000 jobs: four indexed aggregates
(``ix_jobs_batch_id_status``, ``ix_jobs_batch_id_finished_at``, the attempts' and artifacts'
``job_id``), no rows loaded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audiobatch.db.jobs import CHARACTERS_SPENT
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Artifact,
    Batch,
    BatchStatus,
    Job,
    JobStatus,
)
from audiobatch.db.reports import batch_summary, job_counts

RATE_WINDOW_S = 300.0
"""The ETA is the jobs left over the rate at which jobs ended in this window (or since the
batch began, when it is younger)."""

ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def batch_progress(session: Session, batch: Batch, now: datetime) -> dict[str, Any]:
    """:func:`~audiobatch.db.reports.batch_summary` with the share of jobs ended, the recent rate
    and ETA, the characters the API charged, and the outputs stored so far."""
    counts = job_counts(session, batch.id)
    total = sum(counts.values())
    ended = sum(counts[s.value] for s in ENDED)
    rate = _recent_rate(session, batch, now)
    running = batch.status not in TERMINAL_BATCH_STATUSES and batch.status is not BatchStatus.PAUSED
    eta_s = (total - ended) / rate if running and rate and ended < total else None
    files, stored_bytes = session.execute(
        select(func.count(Artifact.id), func.coalesce(func.sum(Artifact.bytes), 0))
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.batch_id == batch.id)
    ).one()
    return {
        **batch_summary(session, batch, counts),
        "total": total,
        "ended": ended,
        "progress": ended / total if total else 1.0,
        "jobs_per_s": rate,
        "eta_s": eta_s,
        "characters": session.scalar(select(CHARACTERS_SPENT).where(Batch.id == batch.id)) or 0,
        "character_budget": batch.character_budget,
        "outputs": {"files": files, "bytes": stored_bytes},
    }


def _recent_rate(session: Session, batch: Batch, now: datetime) -> float | None:
    """Jobs ended per second over the rate window; None when none ended in it."""
    start = max(now - timedelta(seconds=RATE_WINDOW_S), batch.created_at)
    elapsed_s = (now - start).total_seconds()
    recent = session.scalar(
        select(func.count()).where(Job.batch_id == batch.id, Job.finished_at >= start)
    )
    if not recent or elapsed_s <= 0:
        return None
    return recent / elapsed_s
