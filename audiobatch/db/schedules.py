"""Schedules in SQL: adding and finding them, claiming a slot, starting its batch, and the views
``schedule list`` prints.

Slots are claimed with a conditional UPDATE of ``next_slot_at``: of two schedulers that found the
same slot due, one moves it on and the other changes nothing and leaves. Beneath the claim, SQL
itself allows one batch and one firing per (schedule, slot). The slot arithmetic lives in
:mod:`audiobatch.scheduler.cron`; here, slots are values handed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    CatchUpPolicy,
    FiringOutcome,
    OverlapPolicy,
    Schedule,
    ScheduleFiring,
)
from audiobatch.db.session import rows_affected
from audiobatch.db.submit import ScheduledRun, insert_batch
from audiobatch.errors import NotFoundError, ScheduleError
from audiobatch.manifest import Manifest


@dataclass(frozen=True)
class NewSchedule:
    """What ``schedule add`` was given, checked: the cron expression and zone parse, the
    manifest location is absolute, and ``next_slot_at`` is the first slot after now."""

    name: str
    cron: str
    timezone: str
    manifest: str
    manifest_text: str | None
    overlap: OverlapPolicy
    catch_up: CatchUpPolicy
    character_budget: int | None
    next_slot_at: datetime


def add_schedule(session: Session, new: NewSchedule, now: datetime) -> Schedule:
    """Insert a schedule; :class:`ScheduleError` when the name is taken."""
    if session.scalar(select(Schedule.id).where(Schedule.name == new.name)) is not None:
        raise ScheduleError(_name_taken(new.name))
    schedule = Schedule(**asdict(new), enabled=True, created_at=now)
    session.add(schedule)
    try:
        session.flush()
    except IntegrityError as exc:  # added by someone else since the check above
        raise ScheduleError(_name_taken(new.name)) from exc
    return schedule


def _name_taken(name: str) -> str:
    return f"a schedule named {name!r} exists: `audiobatch schedule remove {name}` first"


def find_schedule(session: Session, name: str) -> Schedule:
    schedule = session.scalars(select(Schedule).where(Schedule.name == name)).first()
    if schedule is None:
        raise NotFoundError(f"no schedule named {name!r} (see `audiobatch schedule list`)")
    return schedule


def remove_schedule(session: Session, name: str) -> None:
    """Delete a schedule and its firings; its batches stay, no longer naming it."""
    schedule = find_schedule(session, name)
    session.execute(delete(Schedule).where(Schedule.id == schedule.id))


def list_schedules(session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def due_schedules(session: Session, now: datetime) -> list[Schedule]:
    """Enabled schedules whose next slot has come."""
    return list(
        session.scalars(
            select(Schedule)
            .where(Schedule.enabled, Schedule.next_slot_at <= now)
            .order_by(Schedule.next_slot_at)
        )
    )


def set_enabled(
    session: Session, schedule: Schedule, enabled: bool, next_slot_at: datetime
) -> None:
    """Pause or resume; a resumed schedule goes on from ``next_slot_at``: the slots that passed
    while it was paused are not caught up."""
    schedule.enabled = enabled
    schedule.next_slot_at = next_slot_at


def claim_slot(
    session: Session, schedule_id: int, due_at: datetime, next_slot_at: datetime
) -> bool:
    """Move the schedule's next slot from ``due_at`` on to ``next_slot_at``; False when another
    scheduler did first (or the schedule was paused or removed meanwhile)."""
    moved = session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.enabled, Schedule.next_slot_at == due_at)
        .values(next_slot_at=next_slot_at)
    )
    return rows_affected(moved) == 1


def start_run(
    session: Session,
    schedule: Schedule,
    slot_at: datetime,
    manifest: Manifest,
    now: datetime,
    note: str | None = None,
) -> ScheduleFiring:
    """Write the slot's batch and its jobs, unless the overlap policy skips it while the
    previous batch runs; the firing either way. In the caller's transaction."""
    if schedule.overlap is OverlapPolicy.SKIP:
        running = active_batch(session, schedule.id)
        if running is not None:
            reason = (
                f"the previous batch {running.name} [{running.id}] is still "
                f"{running.status.value} (overlap: skip)"
            )
            return record_firing(session, schedule.id, slot_at, now, FiringOutcome.SKIPPED, reason)
    run = ScheduledRun(schedule.id, slot_at, schedule.character_budget)
    batch = insert_batch(session, manifest, now, scheduled=run)
    return record_firing(session, schedule.id, slot_at, now, FiringOutcome.FIRED, note, batch.id)


def record_firing(
    session: Session,
    schedule_id: int,
    slot_at: datetime,
    now: datetime,
    outcome: FiringOutcome,
    reason: str | None = None,
    batch_id: str | None = None,
) -> ScheduleFiring:
    firing = ScheduleFiring(
        schedule_id=schedule_id,
        slot_at=slot_at,
        fired_at=now,
        outcome=outcome,
        reason=reason,
        batch_id=batch_id,
    )
    session.add(firing)
    session.flush()
    return firing


def active_batch(session: Session, schedule_id: int) -> Batch | None:
    """The schedule's newest batch that has not ended."""
    return session.scalars(
        select(Batch)
        .where(Batch.schedule_id == schedule_id, Batch.status.not_in(TERMINAL_BATCH_STATUSES))
        .order_by(Batch.created_at.desc())
        .limit(1)
    ).first()


def schedule_view(session: Session, schedule: Schedule) -> dict[str, Any]:
    """The ``schedule list --json`` shape of one schedule: its settings, its next slot, its last
    firing (with the reason of a skip or a failure) and its last batch."""
    firing = session.scalars(
        select(ScheduleFiring)
        .where(ScheduleFiring.schedule_id == schedule.id)
        .order_by(ScheduleFiring.fired_at.desc(), ScheduleFiring.id.desc())
        .limit(1)
    ).first()
    batch = session.scalars(
        select(Batch)
        .where(Batch.schedule_id == schedule.id)
        .order_by(Batch.created_at.desc())
        .limit(1)
    ).first()
    return {
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "manifest": schedule.manifest,
        "stored": schedule.manifest_text is not None,
        "enabled": schedule.enabled,
        "overlap": schedule.overlap.value,
        "catch_up": schedule.catch_up.value,
        "character_budget": schedule.character_budget,
        "next_run": schedule.next_slot_at.isoformat() if schedule.enabled else None,
        "last_run": None if firing is None else _firing_view(firing),
        "last_batch": None
        if batch is None
        else {"id": batch.id, "name": batch.name, "status": batch.status.value},
    }


def _firing_view(firing: ScheduleFiring) -> dict[str, Any]:
    return {
        "slot": firing.slot_at.isoformat(),
        "at": firing.fired_at.isoformat(),
        "outcome": firing.outcome.value,
        "reason": firing.reason,
        "batch": firing.batch_id,
    }
