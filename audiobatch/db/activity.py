"""What happened over time and in total: jobs ended and attempts failed per time bucket (the
dashboard's chart), and the totals the Prometheus metrics are derived from (kept, see
:mod:`audiobatch.db.tallies`: a scrape reads no row of the history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from audiobatch.db.models import Attempt, Batch, BatchStatus, Job, JobStatus
from audiobatch.db.tallies import CHARACTERS, LATENCY_MS, THROTTLED, Tallies

FAILED_OUTCOMES = ("retry", "failed")


@dataclass(frozen=True)
class Bucket:
    """One slice of time: jobs that succeeded and failed in it, attempts that failed in it."""

    start: datetime
    end: datetime
    succeeded: int = 0
    failed: int = 0
    failed_attempts: int = 0  # answered with an error, retried or not


def activity(
    session: Session,
    start: datetime,
    end: datetime,
    buckets: int,
    batch_id: str | None = None,
) -> list[Bucket]:
    """``buckets`` equal slices of [start, end), of every batch or of ``batch_id``."""
    width_s = max(1, int((end - start).total_seconds() // buckets) + 1)
    origin = int(start.timestamp())
    jobs = _bucketed(session, Job.finished_at, origin, width_s)
    ended = (
        select(jobs, Job.status, func.count())
        .where(
            Job.finished_at >= start,
            Job.finished_at < end,
            Job.status.in_((JobStatus.SUCCEEDED, JobStatus.FAILED)),
        )
        .group_by(jobs, Job.status)
    )
    tries = _bucketed(session, Attempt.finished_at, origin, width_s)
    failed = (
        select(tries, func.count())
        .where(
            Attempt.finished_at >= start,
            Attempt.finished_at < end,
            Attempt.outcome.in_(FAILED_OUTCOMES),
        )
        .group_by(tries)
    )
    if batch_id is not None:
        ended = ended.where(Job.batch_id == batch_id)
        failed = failed.where(Attempt.batch_id == batch_id)
    table = {n: [0, 0, 0] for n in range(buckets)}
    for n, status, count in session.execute(ended):
        if n in table:
            table[n][0 if status is JobStatus.SUCCEEDED else 1] += count
    for n, count in session.execute(failed):
        if n in table:
            table[n][2] += count
    return [
        Bucket(
            start + timedelta(seconds=n * width_s),
            start + timedelta(seconds=(n + 1) * width_s),
            *table[n],
        )
        for n in range(buckets)
    ]


def _bucketed(
    session: Session, column: QueryableAttribute[Any], origin: int, width_s: int
) -> ColumnElement[int]:
    """The bucket number of ``column``: whole seconds since ``origin`` over ``width_s``."""
    if session.get_bind().dialect.name == "sqlite":
        epoch: ColumnElement[int] = cast(func.strftime("%s", column), Integer)
    else:
        epoch = cast(func.floor(func.extract("epoch", column)), BigInteger)
    return ((epoch - origin) // width_s).label("bucket")


@dataclass(frozen=True)
class AttemptTotals:
    """Every API call ever recorded, summed: the counters and the latency histogram."""

    by_outcome: dict[str, int]
    throttled: int  # answered 429
    characters: int
    latency_le_ms: dict[int, int]  # cumulative: calls that took at most this many ms
    latency_count: int
    latency_sum_ms: int


def attempt_totals(kept: Tallies) -> AttemptTotals:
    """The attempts' totals among the kept figures summed over every batch (``kept``:
    :func:`~audiobatch.db.tallies.total_tallies`); the histogram's bounds are
    :data:`~audiobatch.db.tallies.LATENCY_BOUNDS_MS`."""
    by_outcome = kept.attempts_by_outcome
    return AttemptTotals(
        by_outcome=by_outcome,
        throttled=kept[THROTTLED],
        characters=kept[CHARACTERS],
        latency_le_ms=kept.latency_le_ms,
        latency_count=sum(by_outcome.values()),
        latency_sum_ms=kept[LATENCY_MS],
    )


def status_totals(
    session: Session, kept: Tallies
) -> tuple[dict[JobStatus, int], dict[BatchStatus, int]]:
    """How many jobs (among ``kept``, as :func:`attempt_totals`) and batches are in each status,
    over every batch."""
    batches = session.execute(select(Batch.status, func.count()).group_by(Batch.status))
    return kept.jobs, {s: n for s, n in batches}
