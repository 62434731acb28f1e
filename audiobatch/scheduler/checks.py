"""Checking what ``schedule add`` is given, before anything is written."""

from __future__ import annotations

import re
from datetime import datetime

from audiobatch.db.models import CatchUpPolicy, OverlapPolicy
from audiobatch.db.schedules import NewSchedule
from audiobatch.errors import ScheduleError
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.scheduler.cron import slots_of
from audiobatch.scheduler.manifests import manifest_source

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_NAME = re.compile(NAME_PATTERN)


def new_schedule(
    name: str,
    *,
    cron: str,
    timezone: str,
    manifest: str,
    store: bool,
    overlap: OverlapPolicy,
    catch_up: CatchUpPolicy,
    character_budget: int | None,
    now: datetime,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
) -> NewSchedule:
    """A schedule ready to insert, its first slot the first after ``now``; :class:`ScheduleError`
    for a bad name, cron expression, time zone or manifest location, and
    :class:`~audiobatch.errors.ManifestError` for a manifest file that exists and is invalid
    (its episodes cut into parts of ``part_chars``, its sources from where ``sources`` allows)."""
    if not _NAME.fullmatch(name):
        raise ScheduleError(f"schedule name {name!r} must match {NAME_PATTERN}")
    if character_budget is not None and character_budget < 1:
        raise ScheduleError(f"a character budget must be at least 1, not {character_budget}")
    slots = slots_of(cron, timezone)
    source = manifest_source(manifest, store=store, part_chars=part_chars, sources=sources)
    return NewSchedule(
        name=name,
        cron=slots.cron.text,
        timezone=timezone,
        manifest=source.location,
        manifest_text=source.text,
        overlap=overlap,
        catch_up=catch_up,
        character_budget=character_budget,
        next_slot_at=slots.next_after(now),
    )
