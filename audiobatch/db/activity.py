"""What happened over time and in total: jobs ended and attempts failed per time bucket (the
dashboard's chart), and the attempts' totals the Prometheus metrics are derived from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from audiobatch.db.models import Attempt, Batch, BatchStatus, Job, JobStatus

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


def attempt_totals(session: Session, bounds_ms: Sequence[int]) -> AttemptTotals:
    """Totals over the attempts table in two statements, whatever its size."""
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Attempt.latency_ms), 0),
            func.coalesce(func.sum(Attempt.character_cost), 0),
            func.count().filter(Attempt.http_status == 429),
            *(func.count().filter(Attempt.latency_ms <= bound) for bound in bounds_ms),
        )
    ).one()
    count, latency_sum, characters, throttled, *cumulative = row
    outcomes = session.execute(select(Attempt.outcome, func.count()).group_by(Attempt.outcome))
    return AttemptTotals(
        by_outcome={outcome: n for outcome, n in outcomes},
        throttled=throttled,
        characters=characters or 0,
        latency_le_ms=dict(zip(bounds_ms, cumulative, strict=True)),
        latency_count=count,
        latency_sum_ms=latency_sum,
    )


def status_totals(session: Session) -> tuple[dict[JobStatus, int], dict[BatchStatus, int]]:
    """How many jobs and batches are in each status, over every batch."""
    jobs = session.execute(select(Job.status, func.count()).group_by(Job.status))
    batches = session.execute(select(Batch.status, func.count()).group_by(Batch.status))
    return {s: n for s, n in jobs}, {s: n for s, n in batches}
