"""What batches and jobs have cost: the characters the API charged (its ``character-cost``
header, else the text's characters; see :mod:`audiobatch.render.runner`) over every attempt, and
the minutes of music composed by the jobs that rendered it (not those that reused earlier
outputs, which cost nothing). A batch's are kept (:mod:`audiobatch.db.tallies`); a job's are
summed from its rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from audiobatch.db.models import Attempt, Job, JobStatus
from audiobatch.db.tallies import CHARACTERS, MUSIC_MS, batch_tallies
from audiobatch.manifest.costs import minutes, music_ms


@dataclass(frozen=True)
class Costs:
    characters: int = 0
    music_ms: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"characters": self.characters, "music_minutes": minutes(self.music_ms)}


NO_COSTS = Costs()


def batch_costs(session: Session, batch_ids: Sequence[str]) -> dict[str, Costs]:
    """Each batch's costs, as kept (:mod:`audiobatch.db.tallies`)."""
    kept = batch_tallies(session, batch_ids)
    return {b: Costs(kept[b][CHARACTERS], kept[b][MUSIC_MS]) for b in batch_ids}


def job_costs(session: Session, batch_id: str) -> dict[int, Costs]:
    """The costs of the batch's jobs by job id (absent: none); an episode's include its parts'."""
    return _job_costs(session, Job.batch_id == batch_id)


def costs_of_jobs(session: Session, job_ids: Sequence[int]) -> dict[int, Costs]:
    """:func:`job_costs` of some jobs (a page of a listing)."""
    return _job_costs(session, or_(Job.id.in_(job_ids), Job.part_of.in_(job_ids)))


def _job_costs(session: Session, jobs: ColumnElement[bool]) -> dict[int, Costs]:
    rows = session.execute(
        select(Attempt.job_id, Job.part_of, func.coalesce(func.sum(Attempt.character_cost), 0))
        .join(Job, Job.id == Attempt.job_id)
        .where(jobs)
        .group_by(Attempt.job_id, Job.part_of)
    ).all()
    characters: Counter[int] = Counter()
    for job_id, episode, spent in rows:
        characters[job_id] += spent or 0
        if episode is not None:
            characters[episode] += spent or 0
    music = _music(session, jobs, Job.id)
    return {
        job_id: Costs(characters[job_id], music[job_id]) for job_id in set(characters) | set(music)
    }


def _music(
    session: Session, where: ColumnElement[bool], by: InstrumentedAttribute[Any]
) -> Counter[Any]:
    """Milliseconds of music composed, by ``by``, of the music jobs that rendered it."""
    rows = session.execute(
        select(by, Job.spec).where(
            where,
            Job.kind == "music",
            Job.status == JobStatus.SUCCEEDED,
            Job.cached_from.is_(None),
        )
    )
    composed: Counter[Any] = Counter()
    for key, spec in rows:
        composed[key] += music_ms("music", spec) or 0
    return composed
