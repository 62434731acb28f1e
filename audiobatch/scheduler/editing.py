"""Adding, pausing, resuming and removing schedules: what ``audiobatch schedule`` and the
dashboard's schedules page both do, each in its own transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from audiobatch.db import schedules
from audiobatch.db.models import CatchUpPolicy, OverlapPolicy
from audiobatch.db.schedules import NewSchedule
from audiobatch.db.session import session_scope
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.scheduler.checks import new_schedule
from audiobatch.scheduler.cron import slots_of


@dataclass(frozen=True)
class ScheduleRequest:
    """What ``schedule add`` is given, unchecked."""

    name: str
    cron: str
    manifest: str  # a file path or an s3://bucket/key URI
    timezone: str = "UTC"
    store: bool = False  # keep the manifest file's text with the schedule
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    catch_up: CatchUpPolicy = CatchUpPolicy.LATEST
    character_budget: int | None = None


@dataclass(frozen=True)
class Toggled:
    """A schedule paused or resumed; a resumed one fires next at ``next_slot_at``."""

    name: str
    enabled: bool
    timezone: str
    next_slot_at: datetime


def add_schedule(
    database_url: str,
    request: ScheduleRequest,
    now: datetime,
    *,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
    confined_to: Sequence[Path] | None = None,
    accounts: Collection[str] | None = None,
) -> NewSchedule:
    """Check ``request`` (see :func:`~audiobatch.scheduler.checks.new_schedule`) and insert it;
    it first fires at its next slot after ``now``."""
    new = new_schedule(
        request.name, cron=request.cron, timezone=request.timezone, manifest=request.manifest,
        store=request.store, overlap=request.overlap, catch_up=request.catch_up,
        character_budget=request.character_budget, now=now, part_chars=part_chars,
        sources=sources, confined_to=confined_to, accounts=accounts,
    )  # fmt: skip
    with session_scope(database_url) as session:
        schedules.add_schedule(session, new, now)
    return new


def set_enabled(database_url: str, name: str, enabled: bool, now: datetime) -> Toggled:
    """Pause or resume the schedule ``name``; resumed, it goes on from its first slot after
    ``now`` (the slots missed while paused are not run). A schedule already so is left as it
    is: resuming a running one must not move a slot that is due to the next."""
    with session_scope(database_url) as session:
        schedule = schedules.find_schedule(session, name)
        if schedule.enabled == enabled:
            return Toggled(schedule.name, enabled, schedule.timezone, schedule.next_slot_at)
        following = slots_of(schedule.cron, schedule.timezone).next_after(now)
        schedules.set_enabled(session, schedule, enabled, following)
        return Toggled(schedule.name, enabled, schedule.timezone, following)


def remove_schedule(database_url: str, name: str) -> None:
    """Delete the schedule ``name`` and its firing history; its batches stay."""
    with session_scope(database_url) as session:
        schedules.remove_schedule(session, name)
