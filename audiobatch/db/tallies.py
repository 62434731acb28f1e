"""Kept counts: each batch's jobs by status, the music it composed, its API calls (by outcome,
answered 429, characters, latency) and its outputs, kept as rows change instead of counted at
each read; their fold, their recount and their repair.

How they are kept. Triggers on ``jobs``, ``attempts`` and ``artifacts`` (migration 0019) append
what each statement changed to ``tallies`` as (batch, name, delta) rows, in the statement's own
transaction: whatever writes a job's status, an attempt or an output (the state machine of
:mod:`audiobatch.db.jobs`, submission, pruning, a bulk fill, an operator's SQL) keeps the counts
exact with it, and no path can forget to. Rows are only ever appended, so workers finishing jobs
of one batch at once take no common lock (a single counters row per batch would serialise them
all on its row lock on PostgreSQL). On PostgreSQL the triggers run once a statement over its
transition tables (an update of 10,000 jobs appends one delta per batch and status); SQLite,
which runs one writer at a time, has row-level triggers.

A kept figure is the sum of its batch's rows: one range of ``ix_tallies_batch_id_name``, read
from the index alone on PostgreSQL. :func:`fold` (the reconciler's tick) keeps the ranges short:
it deletes a batch's rows and appends their sums, as ``folded`` rows, in one transaction; a
reader sums in one statement, so it sees the rows before the fold or after it, never half.

Names: ``jobs:<status>``, ``music_ms`` (of succeeded music jobs that composed it, not reused),
``attempts:<outcome>``, ``throttled``, ``characters``, ``latency_ms`` (summed),
``latency_le:<bound>`` (calls in that histogram bucket and not the one below; ``inf`` above the
last), ``outputs`` and ``output_bytes``. The triggers' SQL, in the migration, defines them; a
new figure, or new latency bounds, is a new migration. A migration that rebuilds one of the three
tables on SQLite (``batch_alter_table``) drops its triggers and must create them again.

:func:`recount` counts the same figures from the rows (the reference the tests and ``audiobatch
check`` compare with); :func:`repair` replaces a batch's tallies with its recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, delete, func, insert, null, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from audiobatch.db.models import Artifact, Attempt, Batch, Job, JobStatus, Tally

LATENCY_BOUNDS_MS = (100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
"""The bounds of the kept latency histogram (those of migration 0019's triggers)."""

JOBS, ATTEMPTS, LATENCY_LE = "jobs:", "attempts:", "latency_le:"
CHARACTERS, MUSIC_MS, OUTPUTS, OUTPUT_BYTES = "characters", "music_ms", "outputs", "output_bytes"
THROTTLED, LATENCY_MS = "throttled", "latency_ms"

FOLD_BATCHES = 200
"""Batches folded by one call of :func:`fold`."""


@dataclass(frozen=True)
class Tallies:
    """Kept figures by name (absent: zero), of one batch or summed over several."""

    values: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def _prefixed(self, prefix: str) -> dict[str, int]:
        return {
            name.removeprefix(prefix): value
            for name, value in self.values.items()
            if name.startswith(prefix) and value
        }

    @property
    def jobs(self) -> dict[JobStatus, int]:
        """Jobs by status; statuses without jobs are left out."""
        return {JobStatus(status): n for status, n in self._prefixed(JOBS).items()}

    @property
    def counts(self) -> dict[str, int]:
        """Every status with its count of jobs, zeros included (the ``counts`` shape)."""
        jobs = self.jobs
        return {status.value: jobs.get(status, 0) for status in JobStatus}

    @property
    def attempts_by_outcome(self) -> dict[str, int]:
        return self._prefixed(ATTEMPTS)

    @property
    def latency_le_ms(self) -> dict[int, int]:
        """Cumulative: calls that took at most each bound of :data:`LATENCY_BOUNDS_MS`."""
        buckets = self._prefixed(LATENCY_LE)
        cumulative, seen = {}, 0
        for bound in LATENCY_BOUNDS_MS:
            seen += buckets.get(str(bound), 0)
            cumulative[bound] = seen
        return cumulative


def batch_tallies(session: Session, batch_ids: Iterable[str]) -> dict[str, Tallies]:
    """The kept figures of each of ``batch_ids``, in one statement."""
    kept = {batch_id: Tallies() for batch_id in batch_ids}
    if kept:
        rows = session.execute(
            select(Tally.batch_id, Tally.name, func.sum(Tally.value))
            .where(Tally.batch_id.in_(list(kept)))
            .group_by(Tally.batch_id, Tally.name)
        )
        for batch_id, name, value in rows:
            kept[batch_id].values[name] = int(value)
    return kept


def total_tallies(session: Session) -> Tallies:
    """The kept figures summed over every batch."""
    rows = session.execute(select(Tally.name, func.sum(Tally.value)).group_by(Tally.name))
    return Tallies(Counter({name: int(value) for name, value in rows}))


def kept(*names: str, prefix: str | None = None) -> ScalarSelect[int]:
    """The sum of the kept figures ``names`` (or those starting with ``prefix``) of the batch a
    query of ``Batch`` is at, as a correlated subquery."""
    which = Tally.name.startswith(prefix) if prefix is not None else Tally.name.in_(names)
    return (
        select(func.coalesce(func.sum(Tally.value), 0))
        .where(Tally.batch_id == Batch.id, which)
        .correlate(Batch)
        .scalar_subquery()
    )


def fold(session: Session, limit: int = FOLD_BATCHES) -> int:
    """Replace the rows of up to ``limit`` batches that have deltas by their sums; how many
    batches were folded. The rows deleted are exactly those summed (``RETURNING``): a delta
    committed meanwhile by another transaction stays for the next fold."""
    unfolded = select(Tally.batch_id).where(Tally.folded.is_(False))
    if session.scalar(unfolded.limit(1)) is None:  # a read: most ticks take no write lock
        return 0
    batches = unfolded.distinct().limit(limit)
    gone = session.execute(
        delete(Tally)
        .where(Tally.batch_id.in_(batches))
        .returning(Tally.batch_id, Tally.name, Tally.value)
    ).all()
    sums: Counter[tuple[str, str]] = Counter()
    for batch_id, name, value in gone:
        sums[batch_id, name] += value
    _append_folded(session, sums)
    return len({batch_id for batch_id, _, _ in gone})


def _append_folded(session: Session, sums: Counter[tuple[str, str]]) -> None:
    rows = [
        {"batch_id": batch_id, "name": name, "value": value, "folded": True}
        for (batch_id, name), value in sums.items()
        if value
    ]
    if rows:
        session.execute(insert(Tally), rows)


_LATENCY_BUCKET = case(
    *((Attempt.latency_ms <= bound, str(bound)) for bound in LATENCY_BOUNDS_MS), else_="inf"
).label("bucket")
"""The histogram bucket of an attempt's latency: its lowest bound at or over it, or ``inf``."""


def recount(session: Session, batch_ids: Sequence[str]) -> dict[str, Tallies]:
    """The figures :func:`batch_tallies` keeps, counted from the rows of ``batch_ids`` (it reads
    every job, attempt and output of them)."""
    counted = {batch_id: Tallies() for batch_id in batch_ids}
    if not counted:
        return counted
    music = case(
        (
            (Job.status == JobStatus.SUCCEEDED) & Job.cached_from.is_(None),
            func.coalesce(Job.music_ms, 0),
        ),
        else_=0,
    )
    jobs, attempts, outputs = (
        Job.batch_id.in_(batch_ids),
        Attempt.batch_id.in_(batch_ids),
        Artifact.batch_id.in_(batch_ids),
    )
    by_name = [  # (name, or the prefix of the name the second column completes; query)
        (
            JOBS,
            select(Job.batch_id, Job.status, func.count())
            .where(jobs)
            .group_by(Job.batch_id, Job.status),
        ),
        (
            MUSIC_MS,
            select(Job.batch_id, null(), func.sum(music)).where(jobs).group_by(Job.batch_id),
        ),
        (
            ATTEMPTS,
            select(Attempt.batch_id, Attempt.outcome, func.count())
            .where(attempts)
            .group_by(Attempt.batch_id, Attempt.outcome),
        ),
        (
            LATENCY_LE,
            select(Attempt.batch_id, _LATENCY_BUCKET, func.count())
            .where(attempts)
            .group_by(Attempt.batch_id, _LATENCY_BUCKET),
        ),
        *(
            (
                name,
                select(Attempt.batch_id, null(), func.sum(value))
                .where(attempts)
                .group_by(Attempt.batch_id),
            )
            for name, value in (
                (THROTTLED, case((Attempt.http_status == 429, 1), else_=0)),
                (CHARACTERS, func.coalesce(Attempt.character_cost, 0)),
                (LATENCY_MS, Attempt.latency_ms),
            )
        ),
        (
            OUTPUTS,
            select(Artifact.batch_id, null(), func.count())
            .where(outputs)
            .group_by(Artifact.batch_id),
        ),
        (
            OUTPUT_BYTES,
            select(Artifact.batch_id, null(), func.sum(Artifact.bytes))
            .where(outputs)
            .group_by(Artifact.batch_id),
        ),
    ]
    for name, query in by_name:
        for batch_id, suffix, value in session.execute(query):
            if value:
                counted[batch_id].values[name + (suffix or "")] = int(value)
    return counted


@dataclass(frozen=True)
class Drift:
    """A kept figure of a batch that differs from its recount."""

    batch_id: str
    name: str
    kept: int
    counted: int


def drift(session: Session, batch_ids: Sequence[str]) -> list[Drift]:
    """The kept figures of ``batch_ids`` that differ from a recount. Read both in one snapshot
    (see :func:`snapshot`), or a transition committed between the two reads shows as drift."""
    return _compared(session, batch_ids)[0]


def repair(session: Session, batch_ids: Sequence[str]) -> list[Drift]:
    """Replace the tallies of the batches among ``batch_ids`` that drifted with their recount;
    the drift found. Run it in one snapshot (:func:`snapshot`): the tallies deleted are then
    exactly those the recount matches, and deltas committed meanwhile stay."""
    found, counted = _compared(session, batch_ids)
    drifted = sorted({d.batch_id for d in found})
    if drifted:
        session.execute(delete(Tally).where(Tally.batch_id.in_(drifted)))
        sums = Counter({(b, name): n for b in drifted for name, n in counted[b].values.items()})
        _append_folded(session, sums)
    return found


def _compared(session: Session, batch_ids: Sequence[str]) -> tuple[list[Drift], dict[str, Tallies]]:
    kept_now, counted = batch_tallies(session, batch_ids), recount(session, batch_ids)
    found = []
    for batch_id in batch_ids:
        have, want = kept_now[batch_id].values, counted[batch_id].values
        for name in sorted(set(have) | set(want)):
            if have[name] != want[name]:
                found.append(Drift(batch_id, name, have[name], want[name]))
    return found, counted


def snapshot(session: Session) -> None:
    """Make ``session``'s transaction, before its first statement, read one snapshot throughout
    (PostgreSQL's REPEATABLE READ; SQLite's transactions already do once they have read)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
