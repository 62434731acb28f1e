"""A batch's progress: counts, share ended, recent rate and ETA; and its usage: the characters
the API charged and the outputs stored.

The counts and the usage are kept as jobs, attempts and outputs change
(:mod:`audiobatch.db.tallies`): reading them costs the same whatever the batch's size. The rate is
one read of ``ix_jobs_batch_id_finished_at`` over the rate window. The dashboard keeps the usage
apart (:mod:`audiobatch.dashboard.usage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    TERMINAL_JOB_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobStatus,
)
from audiobatch.db.reports import Episodes, batch_summary, job_counts
from audiobatch.db.tallies import CHARACTERS, OUTPUT_BYTES, OUTPUTS, batch_tallies
from audiobatch.db.workers import unserved_queues
from audiobatch.eta import NO_LIVE_WORKER, Eta, estimate_eta

RATE_WINDOW_S = 300.0
"""The ETA is the jobs left over the rate at which jobs ended in this window (or since the
batch began, when it is younger)."""


@dataclass(frozen=True)
class Usage:
    """What a batch has cost and produced, as summed at ``as_of``."""

    batch_id: str
    characters: int  # charged by the API, over every attempt
    output_files: int
    output_bytes: int
    as_of: datetime


def batch_usage(session: Session, batch_id: str, now: datetime) -> Usage:
    kept = batch_tallies(session, [batch_id])[batch_id]
    return Usage(batch_id, kept[CHARACTERS], kept[OUTPUTS], kept[OUTPUT_BYTES], now)


def batch_progress(session: Session, batch: Batch, now: datetime, usage: Usage) -> dict[str, Any]:
    """:func:`~audiobatch.db.reports.batch_summary` with the share of jobs ended, the recent rate
    and ETA, and ``usage``."""
    counts = job_counts(session, batch.id)
    total = sum(counts.values())
    ended = sum(counts[s.value] for s in TERMINAL_JOB_STATUSES)
    rate = recent_rate(session, batch, now)
    eta = batch_eta(session, batch, total - ended, now, rate)
    return {
        **batch_summary(session, batch, counts),
        "total": total,
        "ended": ended,
        "progress": ended / total if total else 1.0,
        "jobs_per_s": rate,
        "eta_s": eta.seconds_left,
        "eta_reason": eta.reason,
        "no_live_worker": eta.reason == NO_LIVE_WORKER,
        "characters": usage.characters,
        "character_budget": batch.character_budget,
        "outputs": {"files": usage.output_files, "bytes": usage.output_bytes},
        "usage_as_of": usage.as_of.isoformat(),
    }


def batch_eta(
    session: Session, batch: Batch, jobs_left: int, now: datetime, rate: float | None
) -> Eta:
    """The ETA of ``batch``'s ``jobs_left`` at ``rate`` (its :func:`recent_rate`): none once it
    has ended, and none with the reason while it is paused, while the jobs it has left wait on
    queues no live worker serves, or while none of its jobs ended lately. Every view of a
    batch's ETA (the dashboard, ``run``'s progress, ``Client.wait``) takes it from here."""
    if batch.status in TERMINAL_BATCH_STATUSES:
        return Eta(None)
    return estimate_eta(
        jobs_left,
        rate,
        active=batch.status is not BatchStatus.PAUSED,
        workers_live=not unserved_queues(session, [batch.id], now),
    )


def recent_rate(session: Session, batch: Batch, now: datetime) -> float | None:
    """Jobs ended per second over the rate window; None when none ended in it."""
    start = max(now - timedelta(seconds=RATE_WINDOW_S), batch.created_at)
    elapsed_s = (now - start).total_seconds()
    recent = session.scalar(
        select(func.count()).where(Job.batch_id == batch.id, Job.finished_at >= start)
    )
    if not recent or elapsed_s <= 0:
        return None
    return recent / elapsed_s


def stitching_episodes(session: Session, batch_id: str) -> int:
    """How many of the batch's episodes have every part rendered and are being stitched now."""
    episodes = Episodes.of(session, batch_id)
    whole = [episode for episode, (done, total) in episodes.parts.items() if done == total]
    if not whole:
        return 0
    stitching = select(func.count()).where(Job.id.in_(whole), Job.status == JobStatus.RUNNING)
    return session.scalar(stitching) or 0
