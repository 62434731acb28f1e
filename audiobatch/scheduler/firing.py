"""Firing schedules: at ``now``, give every slot that has come its batch, once.

The time is an argument: the scheduler's task passes the clock, tests pass the times they need.

- A slot handled within :data:`ON_TIME_S` of its time is on time and fires. Later than that (no
  scheduler ran at the slot), the catch-up policy decides: ``latest`` fires the latest missed
  slot once, ``skip`` records it as skipped. Earlier missed slots are never run.
- The overlap policy ``skip`` records a slot as skipped while the schedule's previous batch has
  not ended (paused at its budget, say); ``allow`` starts the new batch beside it.
- A manifest that is missing or invalid records a failed firing with the reason, shown by
  ``schedule list``; the slot is spent and the next one fires as usual. A store that cannot be
  reached for now leaves the slot due: the next tick tries again.
- Two schedulers firing at once: one claims the slot, the other changes nothing
  (:func:`audiobatch.db.schedules.claim_slot`); the batch and its jobs are written with the claim,
  in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from audiobatch.db.models import CatchUpPolicy, FiringOutcome, Schedule, ScheduleFiring
from audiobatch.db.reconcile import Publish, publish_queued
from audiobatch.db.schedules import (
    claim_slot,
    due_schedules,
    find_schedule,
    record_firing,
    start_run,
)
from audiobatch.db.session import session_scope
from audiobatch.errors import (
    ManifestError,
    NotFoundError,
    StorageError,
    StorageUnavailableError,
)
from audiobatch.manifest import Manifest
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.scheduler.cron import Slots, slots_of
from audiobatch.scheduler.manifests import scheduled_manifest

log = logging.getLogger(__name__)

ON_TIME_S = 300.0
"""How late a slot may be handled and still count as on time (a busy or restarting scheduler)."""

RUN_BY_HAND = "run by hand (`audiobatch schedule run`)"


@dataclass(frozen=True)
class Due:
    """The slot to handle now, whether to run it, and the next slot after it."""

    slot_at: datetime
    next_slot_at: datetime
    run: bool
    note: str | None = None


@dataclass(frozen=True)
class Fired:
    """What became of a slot."""

    schedule: str
    slot_at: datetime
    outcome: FiringOutcome
    reason: str | None
    batch_id: str | None


def due_slot(
    slots: Slots, next_slot_at: datetime, now: datetime, catch_up: CatchUpPolicy
) -> Due | None:
    """The slot a schedule whose next slot is ``next_slot_at`` handles at ``now``; None when
    that slot has not come."""
    if next_slot_at > now:
        return None
    slot_at = max(slots.latest_at_or_before(now) or next_slot_at, next_slot_at)
    following = slots.next_after(now)
    if (now - slot_at).total_seconds() <= ON_TIME_S:
        missed = None
        if slot_at > next_slot_at:
            missed = f"the slots from {next_slot_at.isoformat()} passed while no scheduler ran"
        return Due(slot_at, following, run=True, note=missed)
    late = f"no scheduler ran at {slot_at.isoformat()}"
    if catch_up is CatchUpPolicy.LATEST:
        return Due(slot_at, following, run=True, note=f"caught up: {late} (catch-up: latest)")
    return Due(slot_at, following, run=False, note=f"missed: {late} (catch-up: skip)")


def fire_due(
    database_url: str,
    publish: Publish,
    now: datetime,
    *,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> list[Fired]:
    """Handle every enabled schedule whose slot has come; what became of each slot this call
    handled (slots another scheduler handled are left out). Episodes of the manifests are cut
    into parts of ``part_chars``; their sources must come from where ``sources`` allows, their
    account be one of ``accounts`` (None: any well-formed name)."""
    with session_scope(database_url) as session:
        due = due_schedules(session, now)
    fired = [
        outcome
        for schedule in due
        if (outcome := _fire_slot(database_url, schedule, now, part_chars, sources, accounts))
    ]
    if any(f.batch_id for f in fired):
        publish_queued(database_url, publish, now)
    return fired


def fire_now(
    database_url: str,
    publish: Publish,
    name: str,
    now: datetime,
    *,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> Fired:
    """Fire schedule ``name`` now, outside its slots (``schedule run``); the overlap policy
    applies, episodes are cut into parts of ``part_chars``, sources come from where ``sources``
    allows, and the manifest's account must be one of ``accounts``. A store that cannot be reached
    raises :class:`StorageUnavailableError`."""
    with session_scope(database_url) as session:
        schedule = find_schedule(session, name)
    manifest, failure = _manifest_or_failure(schedule, now, part_chars, sources, accounts)
    with session_scope(database_url) as session:
        firing = _record(session, schedule, now, RUN_BY_HAND, manifest, failure, now)
        fired = _fired(schedule, firing)
    if fired.batch_id:
        publish_queued(database_url, publish, now)
    return fired


def _fire_slot(
    database_url: str,
    schedule: Schedule,
    now: datetime,
    part_chars: int,
    sources: SourcePolicy,
    accounts: Collection[str] | None,
) -> Fired | None:
    slots = slots_of(schedule.cron, schedule.timezone)
    due = due_slot(slots, schedule.next_slot_at, now, schedule.catch_up)
    if due is None:
        return None
    manifest, failure = None, None
    if due.run:
        try:
            manifest, failure = _manifest_or_failure(
                schedule, due.slot_at, part_chars, sources, accounts
            )
        except StorageUnavailableError as exc:
            log.warning(
                "schedule %s: slot %s: %s; trying again at the next tick",
                schedule.name,
                due.slot_at.isoformat(),
                exc,
            )
            return None
    with session_scope(database_url) as session:
        if not claim_slot(session, schedule.id, schedule.next_slot_at, due.next_slot_at):
            log.debug(
                "schedule %s: slot %s handled by another scheduler",
                schedule.name,
                due.slot_at.isoformat(),
            )
            return None
        firing = _record(session, schedule, due.slot_at, due.note, manifest, failure, now)
        fired = _fired(schedule, firing)
    log.info(
        "schedule %s: slot %s %s%s%s",
        fired.schedule,
        fired.slot_at.isoformat(),
        fired.outcome.value,
        f", batch {fired.batch_id}" if fired.batch_id else "",
        f": {fired.reason}" if fired.reason else "",
    )
    return fired


def _manifest_or_failure(
    schedule: Schedule,
    slot_at: datetime,
    part_chars: int,
    sources: SourcePolicy,
    accounts: Collection[str] | None,
) -> tuple[Manifest | None, str | None]:
    """The manifest to run, or why there is none; a store that cannot be reached raises."""
    try:
        manifest = scheduled_manifest(
            schedule, slot_at, part_chars=part_chars, sources=sources, accounts=accounts
        )
        return manifest, None
    except StorageUnavailableError:
        raise
    except ManifestError as exc:
        problems = "; ".join(str(problem) for problem in exc.problems)
        return None, f"invalid manifest: {problems}"
    except (NotFoundError, StorageError) as exc:
        return None, f"cannot read the manifest: {exc}"


def _record(
    session: Session,
    schedule: Schedule,
    slot_at: datetime,
    note: str | None,
    manifest: Manifest | None,
    failure: str | None,
    now: datetime,
) -> ScheduleFiring:
    """Start the slot's batch, or record why there is none: a failure, else a skip (``note``)."""
    if manifest is not None:
        return start_run(session, schedule, slot_at, manifest, now, note)
    if failure is not None:
        return record_firing(session, schedule.id, slot_at, now, FiringOutcome.FAILED, failure)
    return record_firing(session, schedule.id, slot_at, now, FiringOutcome.SKIPPED, note)


def _fired(schedule: Schedule, firing: ScheduleFiring) -> Fired:
    return Fired(schedule.name, firing.slot_at, firing.outcome, firing.reason, firing.batch_id)
