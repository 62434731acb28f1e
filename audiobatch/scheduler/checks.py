"""Checking what ``schedule add`` is given, before anything is written."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from audiobatch.db.models import CatchUpPolicy, OverlapPolicy
from audiobatch.db.schedules import NewSchedule
from audiobatch.db.submit import budget_problem
from audiobatch.errors import ScheduleError, ScheduleFieldError
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.scheduler.cron import parse_zone, slots_of
from audiobatch.scheduler.manifests import manifest_source

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_NAME = re.compile(NAME_PATTERN)
P = ParamSpec("P")
T = TypeVar("T")


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
    confined_to: Sequence[Path] | None = None,
    accounts: Collection[str] | None = None,
) -> NewSchedule:
    """A schedule ready to insert, its first slot the first after ``now``;
    :class:`ScheduleFieldError` naming the field of a bad name, cron expression, time zone,
    budget or manifest location, and
    :class:`~audiobatch.errors.ManifestError` for a manifest file that exists and is invalid
    (its episodes cut into parts of ``part_chars``, its sources from where ``sources`` allows,
    its account one of ``accounts``;
    a local manifest from within ``confined_to`` when it is given)."""
    if not _NAME.fullmatch(name):
        raise ScheduleFieldError("name", f"schedule name {name!r} must match {NAME_PATTERN}")
    if character_budget is not None and (problem := budget_problem(character_budget)):
        raise ScheduleFieldError("character_budget", f"a character budget must be {problem}")
    _in_field("timezone", parse_zone, timezone)
    slots = _in_field("cron", slots_of, cron, timezone)  # the zone parses: the cron is at fault
    source = _in_field(
        "manifest", manifest_source, manifest, store=store, part_chars=part_chars,
        sources=sources, confined_to=confined_to, accounts=accounts,
    )  # fmt: skip
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


def _in_field(field: str, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``check(...)``, its :class:`ScheduleError` told as one of ``field``."""
    try:
        return check(*args, **kwargs)
    except ScheduleError as exc:
        raise ScheduleFieldError(field, str(exc)) from exc
