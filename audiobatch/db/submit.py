"""Writing manifests into SQL: a batch and all its jobs in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
)
from audiobatch.db.session import hold_locks
from audiobatch.db.tags import add_tags
from audiobatch.errors import ConfigError
from audiobatch.manifest import DialogueJob, JobSpec, Manifest
from audiobatch.manifest.costs import music_ms
from audiobatch.manifest.episodes import Part, manifest_episodes, part_job, part_key
from audiobatch.priorities import DEFAULT as DEFAULT_PRIORITY
from audiobatch.render.families import FAMILIES


@dataclass(frozen=True)
class SubmittedBatch:
    id: str
    name: str
    jobs: int
    existing: bool = False  # the same manifest's batch was still active: nothing new was written


def lock_manifests(session: Session, manifests: Sequence[Manifest]) -> None:
    """Hold, until the transaction ends, the locks that make checking for a manifest's active
    batch and inserting one atomic: of two identical submissions at once, the second sees the
    first's batch. SQLite's BEGIN IMMEDIATE serialises writing transactions already; PostgreSQL
    takes an advisory lock per manifest, in one order so that two submissions cannot deadlock."""
    hold_locks(session, (int(m.sha256[:15], 16) for m in manifests))  # 60 bits fit a bigint


@dataclass(frozen=True)
class Spending:
    """What a submitted batch may spend: characters before it pauses (None: no budget), and
    whether it goes on by itself at the account's next reset when the quota pauses it (None:
    as the deployment's ``AUDIOBATCH_CONTINUE_AT_RESET`` says)."""

    character_budget: int | None = None
    continue_at_reset: bool | None = None

    def __post_init__(self) -> None:
        budget = self.character_budget
        if budget is not None and (problem := budget_problem(budget)):
            raise ConfigError(f"a character budget must be {problem}")


MAX_CHARACTER_BUDGET = 2**31 - 1
"""The largest budget its column holds (PostgreSQL's ``integer``)."""


def budget_problem(characters: int) -> str | None:
    """Why ``characters`` cannot be a character budget (to follow "it must be"), or None."""
    if characters < 1:
        return f"at least 1 character, not {characters}"
    if characters > MAX_CHARACTER_BUDGET:
        return f"at most {MAX_CHARACTER_BUDGET} characters, not {characters}"
    return None


@dataclass(frozen=True)
class ScheduledRun:
    """What a batch fired by a schedule carries: the slot it renders (one batch per slot) and
    the characters it may spend before it pauses."""

    schedule_id: int
    slot_at: datetime
    character_budget: int | None = None


def active_batch_of(session: Session, manifest: Manifest) -> SubmittedBatch | None:
    """The newest batch of this very manifest (same name, same resolved jobs) on the same
    account that has not ended (another account's is another client's work); call
    :func:`lock_manifests` first in the same transaction."""
    batch_id = session.scalar(
        select(Batch.id)
        .where(
            Batch.manifest_sha256 == manifest.sha256,
            Batch.account == manifest.account,
            Batch.status.not_in(TERMINAL_BATCH_STATUSES),
        )
        .order_by(Batch.created_at.desc())
        .limit(1)
    )
    return None if batch_id is None else submitted_earlier(session, batch_id)


def submitted_earlier(session: Session, batch_id: str) -> SubmittedBatch:
    """The batch ``batch_id``, written by an earlier submission, as a submission answers it."""
    name = session.scalars(select(Batch.name).where(Batch.id == batch_id)).one()
    jobs = session.scalar(select(func.count()).where(Job.batch_id == batch_id)) or 0
    return SubmittedBatch(id=batch_id, name=name, jobs=jobs, existing=True)


def new_batch_id() -> str:
    return uuid.uuid4().hex[:12]


def insert_batch(
    session: Session,
    manifest: Manifest,
    now: datetime,
    *,
    fresh: bool = False,
    scheduled: ScheduledRun | None = None,
    spending: Spending = Spending(),
) -> SubmittedBatch:
    """Insert one manifest as a batch with its tags; jobs without dependencies start ``queued``, others
    ``pending``. A ``fresh`` batch never reuses the outputs of identical earlier requests; a
    ``scheduled`` one renders a schedule's slot (with the schedule's budget)."""
    batch_id = new_batch_id()
    budget = scheduled.character_budget if scheduled else spending.character_budget
    session.add(
        Batch(
            id=batch_id,
            name=manifest.batch,
            status=BatchStatus.QUEUED,
            manifest_sha256=manifest.sha256,
            source=manifest.source,
            source_roots=manifest.source_roots,
            fresh=fresh,
            created_at=now,
            schedule_id=scheduled.schedule_id if scheduled else None,
            slot_at=scheduled.slot_at if scheduled else None,
            character_budget=budget,
            continue_at_reset=spending.continue_at_reset,
            priority=DEFAULT_PRIORITY if manifest.priority is None else manifest.priority,
            notify=manifest.notify.as_json() if manifest.notify else None,
            account=manifest.account,
        )
    )
    session.flush()
    if manifest.tags:
        add_tags(session, batch_id, manifest.tags)
    episodes = manifest_episodes(manifest)
    rows = [
        {
            "batch_id": batch_id,
            "key": key,
            "kind": job.kind,
            "queue": FAMILIES[job.kind].queue,
            "spec": spec,
            "music_ms": music_ms(job.kind, spec),
            "status": JobStatus.PENDING if waits else JobStatus.QUEUED,
            "attempts": 0,
            "created_at": now,
        }
        for key, job, waits in _job_rows(manifest, episodes)
        for spec in [job.model_dump(mode="json", by_alias=True)]
    ]
    # Core executemany without RETURNING: one prepared statement for every row. Returning the ids
    # makes SQLAlchemy render multi-row VALUES statements the driver parses anew for each page.
    session.connection().execute(insert(Job), rows)
    _write_graph(session, batch_id, manifest, episodes)
    return SubmittedBatch(id=batch_id, name=manifest.batch, jobs=len(rows))


def _job_rows(
    manifest: Manifest, episodes: Mapping[str, list[Part]]
) -> Iterator[tuple[str, JobSpec, bool]]:
    """(key, job, whether it waits for other jobs) of every job to write: the manifest's jobs,
    each episode after its parts."""
    for job in manifest.jobs:
        parts = episodes.get(job.id, [])
        for number, part in enumerate(parts, 1):
            assert isinstance(job, DialogueJob)  # only dialogue jobs have parts
            yield part_key(job.id, number), part_job(job, part), False
        yield job.id, job, bool(parts or job.dependencies())


def _write_graph(
    session: Session, batch_id: str, manifest: Manifest, episodes: Mapping[str, list[Part]]
) -> None:
    """One dependency row per (job, parent) of the manifest, with the jobs' database ids; an
    episode depends on its parts, which name it in ``part_of``."""
    pairs = [(job.id, parent) for job in manifest.jobs for parent in job.dependencies()]
    part_pairs = [
        (episode, part_key(episode, number))
        for episode, parts in episodes.items()
        for number in range(1, len(parts) + 1)
    ]
    if not pairs and not part_pairs:
        return
    ids = dict(session.execute(select(Job.key, Job.id).where(Job.batch_id == batch_id)).all())
    edges = [{"job_id": ids[key], "parent_id": ids[parent]} for key, parent in pairs + part_pairs]
    session.execute(insert(JobDependency), edges)
    if part_pairs:
        session.connection().execute(
            update(Job).where(Job.id == bindparam("part")).values(part_of=bindparam("episode")),
            [{"part": ids[part], "episode": ids[episode]} for episode, part in part_pairs],
        )
