"""Operator actions on a batch: retry failed jobs, cancel what has not run, resume a paused batch."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from audiobatch.db import jobs
from audiobatch.db.batches import CHARACTERS_SPENT
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobStatus,
)
from audiobatch.errors import NotFoundError, RetakeError
from audiobatch.manifest import DialogueJob
from audiobatch.manifest.episodes import SEED_BYTES, Part, episode_parts, part_key

_ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


def retry_failed(session: Session, batch: Batch, job_key: str | None = None) -> int:
    """Send failed jobs back to the queue (dependants that failed with them wait again). Job
    ``job_key`` alone goes with its episode's parts and stitch: an episode's failed parts, a
    part's episode."""
    query = select(Job).where(Job.batch_id == batch.id, Job.status == JobStatus.FAILED)
    if job_key is not None:
        named = session.execute(
            select(Job.id, Job.part_of).where(Job.batch_id == batch.id, Job.key == job_key)
        ).first()
        if named is None:
            raise NotFoundError(f"batch {batch.name} [{batch.id}] has no job {job_key!r}")
        query = query.where(
            or_(Job.id == named.id, Job.part_of == named.id, Job.id == named.part_of)
        )
    # locked and read anew: a finisher ending the batch now waits and sees the jobs queued again,
    # and a batch it ended a moment ago is reopened from what it is, not what it was
    _lock(session, batch)
    failed = list(session.scalars(query.with_only_columns(Job.id)))
    if job_key is not None and not failed:
        raise NotFoundError(f"batch {batch.name} [{batch.id}] has no failed job {job_key!r}")
    retried = jobs.retry_failed(session, failed)
    if retried:
        batch.status = BatchStatus.RUNNING
        batch.finished_at = batch.results_at = None
        batch.status_reason = None
    return retried


@dataclass(frozen=True)
class Retake:
    """The parts an episode renders again for a retake, each with its new seed."""

    batch_id: str
    batch_name: str
    episode: str
    seeds: dict[str, int]  # part key -> seed


def retake(
    session: Session, batch: Batch, episode_key: str, turn: int, seed: int | None = None
) -> Retake:
    """Render again the part of episode ``episode_key`` holding ``turn`` (both parts, for a
    turn cut across two) with ``seed``, else a new random one, then stitch the episode again.
    The parts' and the episode's outputs stay as they are until the new take's replace them."""
    episode, parts = _episode(session, batch, episode_key)
    turns = parts[-1].lines[-1].turn + 1
    if not 0 <= turn < turns:
        raise RetakeError(
            f"episode {episode_key!r} of {_named(batch)} has turns 0 to {turns - 1},"
            f" not turn {turn}"
        )
    keys = [
        part_key(episode_key, number)
        for number, part in enumerate(parts, 1)
        if any(line.turn == turn for line in part.lines)
    ]
    return _retake_parts(session, batch, episode, keys, seed)


def retake_part(session: Session, batch: Batch, key: str, seed: int | None = None) -> Retake:
    """Render again the episode's part ``key`` with ``seed`` (else a new one), then stitch."""
    part_of = session.scalar(select(Job.part_of).where(Job.batch_id == batch.id, Job.key == key))
    if part_of is None:
        _episode(session, batch, key)  # refused: no such job, or no part of an episode
        raise RetakeError(f"job {key!r} of {_named(batch)} is an episode: name a turn of it")
    episode_key = session.scalar(select(Job.key).where(Job.id == part_of))
    assert episode_key is not None  # a part's episode is in its batch (ON DELETE CASCADE)
    episode, _ = _episode(session, batch, episode_key)
    return _retake_parts(session, batch, episode, [key], seed)


def _episode(session: Session, batch: Batch, key: str) -> tuple[Row[Any], list[Part]]:
    """Job ``key``'s row and its parts; refused unless it is an episode."""
    row = session.execute(
        select(Job.id, Job.key, Job.kind, Job.spec, Job.status, Job.part_of).where(
            Job.batch_id == batch.id, Job.key == key
        )
    ).first()
    if row is None:
        raise NotFoundError(f"{_named(batch)} has no job {key!r}")
    if row.part_of is not None:
        episode = session.scalar(select(Job.key).where(Job.id == row.part_of))
        raise RetakeError(
            f"job {key!r} of {_named(batch)} is a part, not an episode:"
            f" retake its episode, --job {episode}"
        )
    dialogue = row.kind == "dialogue"
    parts = episode_parts(DialogueJob.model_validate(row.spec)) if dialogue else None
    if parts is None:
        raise RetakeError(
            f"job {key!r} of {_named(batch)} is not an episode (a dialogue job rendered in"
            " parts): only an episode's part can be taken again; `retry` renders failed jobs"
        )
    return row, parts


def _retake_parts(
    session: Session, batch: Batch, episode: Row[Any], keys: list[str], seed: int | None
) -> Retake:
    # locked and read anew, as retry_failed does: a finisher ending the batch waits for this
    _lock(session, batch)
    held = session.execute(
        select(Job.id, Job.key, Job.status).where(Job.batch_id == batch.id, Job.key.in_(keys))
    ).all()
    unended = [f"{key} is {status}" for _, key, status in held if status not in _ENDED]
    if episode.status not in _ENDED:
        unended.insert(0, f"{episode.key} is {episode.status}")
    if unended:
        raise RetakeError(
            f"episode {episode.key!r} of {_named(batch)} is still rendering"
            f" ({', '.join(unended)}): retake it once it has ended"
        )
    seeds = {key: secrets.randbits(8 * SEED_BYTES) if seed is None else seed for key in keys}
    by_id = {job_id: seeds[key] for job_id, key, _ in held}
    if jobs.retake(session, episode.id, by_id) != len(by_id) + 1:
        raise RetakeError(
            f"episode {episode.key!r} of {_named(batch)} changed meanwhile: try again"
        )
    batch.status = BatchStatus.RUNNING
    batch.finished_at = batch.results_at = None
    batch.status_reason = None
    return Retake(batch.id, batch.name, episode.key, seeds)


def _named(batch: Batch) -> str:
    return f"batch {batch.name} [{batch.id}]"


def _lock(session: Session, batch: Batch) -> None:
    """Take the batch's row lock and read it anew; NotFoundError when a prune deleted it since
    it was found."""
    if session.get(Batch, batch.id, with_for_update=True, populate_existing=True) is None:
        raise NotFoundError(f"{_named(batch)} was deleted meanwhile by `audiobatch prune`")


def cancel(session: Session, batch: Batch, now: datetime, *, abandon: bool = False) -> int:
    """Cancel every job that has not started; running ones finish and keep their outputs, or with
    ``abandon`` are cancelled too (their workers drop them at their next lease renewal and record
    nothing). The batch ends as ``cancelled`` once nothing runs (see :func:`batches.end_batch_if_done`);
    returns how many jobs were cancelled."""
    if batch.status in TERMINAL_BATCH_STATUSES:
        return 0
    cancelled = jobs.cancel(session, batch.id, now, running_too=abandon)
    batch.status_reason = "cancelled by operator"
    batch.resume_at = None
    return cancelled


def resume(session: Session, batch: Batch) -> int:
    """Queue the paused jobs of a paused batch again; a batch that has spent its character
    budget goes on without it (it would pause again at once)."""
    # locked and read anew: a worker handing back a job of this batch as paused waits, then
    # sees it running, so no job is left paused in a running batch
    _lock(session, batch)
    if batch.character_budget is not None:
        spent = session.scalar(select(CHARACTERS_SPENT).where(Batch.id == batch.id)) or 0
        if spent >= batch.character_budget:
            batch.character_budget = None
    resumed = jobs.resume(session, batch.id)
    batch.resume_at = None
    if batch.status is BatchStatus.PAUSED:
        batch.status = BatchStatus.RUNNING
        batch.status_reason = None
    return resumed
