"""The webhook outbox in SQL: events written with the change that causes them, one delivery per
receiver, claimed under a lease by a sender and closed with the receiver's answer.

- :func:`record_event` runs in the transaction of the batch's change (ended, paused): if that
  commits, so does the event; a crash loses neither.
- :func:`address_events` (a sender) writes each new event's deliveries: to the deployment's
  ``AUDIOBATCH_WEBHOOK_URL`` and to the batch's own ``notify`` URL when it asked for the event.
  A conditional update lets one sender of several address an event.
- :func:`claim_delivery` takes one due delivery under a lease and counts the attempt; the HTTP
  request happens after that commit, with no transaction open; :func:`record_answer` closes it
  if the lease is still this sender's. A sender killed in between leaves a lease that runs out:
  the delivery is sent again (at least once; receivers dedupe by its ``webhook-id``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from audiobatch.db.models import (
    UNENDED_BATCH_STATUSES,
    Batch,
    Job,
    JobStatus,
    WebhookDelivery,
    WebhookEvent,
    status_in,
)
from audiobatch.db.session import rows_affected
from audiobatch.manifest.notify import FAILURE_THRESHOLD, Notify, shown_url


def record_event(
    session: Session, batch_id: str, event: str, now: datetime, **data: Any
) -> WebhookEvent:
    """Write ``event`` of the batch with its body (``type``, ``timestamp``, ``data``: the batch's
    id, name, status, reason and job counts, and ``data``'s items), in the caller's transaction."""
    batch = session.execute(
        select(Batch.name, Batch.status, Batch.status_reason).where(Batch.id == batch_id)
    ).one()
    counts = dict(
        session.execute(
            select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status)
        ).all()
    )
    body = {
        "type": event,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {
            "batch_id": batch_id,
            "name": batch.name,
            "status": str(batch.status),
            "reason": batch.status_reason,
            "counts": {str(status): counts.get(status, 0) for status in JobStatus},
            **data,
        },
    }
    row = WebhookEvent(
        id=uuid.uuid4().hex,
        batch_id=batch_id,
        event=event,
        body=json.dumps(body, separators=(",", ":")),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def note_failure_threshold(session: Session, batch_id: str, now: datetime) -> bool:
    """Record ``batch.failure_threshold`` once, when the batch's failed jobs have reached its
    manifest's ``failure_threshold``; True when this call recorded it. Checked as the batch ends
    and on every reconciler tick (so it comes at most a tick after the job that crossed it)."""
    notify = Notify.from_json(session.scalar(select(Batch.notify).where(Batch.id == batch_id)))
    if notify is None or notify.failure_threshold is None:
        return False
    failed = select(func.count()).where(Job.batch_id == batch_id, Job.status == JobStatus.FAILED)
    if (session.scalar(failed) or 0) < notify.failure_threshold:
        return False
    # under the batch's row lock, asked again: two ticks at once record it once
    session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
    sent = select(WebhookEvent.id).where(
        WebhookEvent.batch_id == batch_id, WebhookEvent.event == FAILURE_THRESHOLD
    )
    if session.scalar(sent.limit(1)) is not None:
        return False
    record_event(
        session, batch_id, FAILURE_THRESHOLD, now,
        failed=session.scalar(failed), failure_threshold=notify.failure_threshold,
    )  # fmt: skip
    return True


def batches_watching_failures(session: Session) -> list[str]:
    """Unended batches whose manifest set a ``failure_threshold`` not yet told (see
    :func:`note_failure_threshold`): one query, however many batches run."""
    told = exists().where(
        WebhookEvent.batch_id == Batch.id, WebhookEvent.event == FAILURE_THRESHOLD
    )
    query = select(Batch.id, Batch.notify).where(
        status_in(Batch.status, UNENDED_BATCH_STATUSES), Batch.notify.is_not(None), ~told
    )
    return [
        batch_id
        for batch_id, notify in session.execute(query)
        if (own := Notify.from_json(notify)) is not None and own.failure_threshold is not None
    ]


def address_events(session: Session, deployment_url: str | None, now: datetime) -> int:
    """Write the deliveries of every event not yet addressed; how many deliveries were written."""
    written = 0
    unaddressed = select(WebhookEvent).where(WebhookEvent.addressed_at.is_(None))
    for event in session.scalars(unaddressed.order_by(WebhookEvent.created_at).limit(500)):
        taken = update(WebhookEvent).where(
            WebhookEvent.id == event.id, WebhookEvent.addressed_at.is_(None)
        )
        if not rows_affected(session.execute(taken.values(addressed_at=now))):
            continue  # another sender addressed it
        own = Notify.from_json(
            session.scalar(select(Batch.notify).where(Batch.id == event.batch_id))
        )
        urls = [deployment_url] if deployment_url else []
        if own is not None and event.event in own.events:
            urls.append(own.url)
        for url in dict.fromkeys(urls):
            session.add(
                WebhookDelivery(
                    id=f"msg_{uuid.uuid4().hex}",
                    event_id=event.id,
                    batch_id=event.batch_id,
                    url=url,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            written += 1
    return written


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds until ``leased_until``: what to send, where, which attempt."""

    id: str
    url: str
    body: str
    attempt: int
    leased_until: datetime


_UNSENT = (WebhookDelivery.delivered_at.is_(None), WebhookDelivery.gave_up_at.is_(None))


def claim_delivery(session: Session, now: datetime, lease_s: float) -> Claimed | None:
    """Take the longest-due delivery no other sender holds, counting its attempt; None when none
    is due. Of two senders after one row, the conditional update lets one win."""
    free = or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until <= now)
    due = (*_UNSENT, WebhookDelivery.next_attempt_at <= now, free)
    candidates = select(WebhookDelivery.id).where(*due).order_by(WebhookDelivery.next_attempt_at)
    leased_until = now + timedelta(seconds=lease_s)
    # PostgreSQL: rows another sender is claiming now are skipped rather than waited for
    locked = candidates.limit(10).with_for_update(skip_locked=True)
    for delivery_id in session.scalars(locked):
        taken = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, *due)
            .values(leased_until=leased_until, attempts=WebhookDelivery.attempts + 1)
        )
        if rows_affected(session.execute(taken)):
            row = session.execute(
                select(WebhookDelivery.url, WebhookEvent.body, WebhookDelivery.attempts)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            ).one()
            return Claimed(delivery_id, row.url, row.body, row.attempts, leased_until)
    return None


@dataclass(frozen=True)
class Answer:
    """What became of one attempt: the receiver's HTTP status (None: no answer) or the error,
    and when to try again (None: delivered, or given up when ``gave_up``)."""

    status: int | None
    error: str | None
    retry_at: datetime | None = None
    gave_up: bool = False


def record_answer(session: Session, claimed: Claimed, answer: Answer, now: datetime) -> bool:
    """Close the attempt, if the lease is still this sender's; False when it ran out and another
    sender may have taken the delivery (its own answer then counts)."""
    values: dict[str, Any] = {
        "last_status": answer.status,
        "last_error": answer.error,
        "leased_until": None,
    }
    if answer.retry_at is not None:
        values["next_attempt_at"] = answer.retry_at
    elif answer.gave_up:
        values["gave_up_at"] = now
    else:
        values["delivered_at"] = now
    mine = update(WebhookDelivery).where(
        WebhookDelivery.id == claimed.id, WebhookDelivery.leased_until == claimed.leased_until
    )
    return bool(rows_affected(session.execute(mine.values(**values))))


def deliveries_of(session: Session, batch_id: str) -> list[dict[str, Any]]:
    """The batch's deliveries as ``status --json``, the API and the dashboard show them, oldest
    first: the URL without its query (which may hold a receiver's token)."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent.event)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.batch_id == batch_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    ).all()
    return [_shown(delivery, event) for delivery, event in rows]


def _shown(delivery: WebhookDelivery, event: str) -> dict[str, Any]:
    if delivery.delivered_at is not None:
        state = "delivered"
    elif delivery.gave_up_at is not None:
        state = "gave_up"
    else:
        state = "retrying" if delivery.attempts else "pending"
    return {
        "id": delivery.id,
        "event": event,
        "url": shown_url(delivery.url),
        "state": state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "next_attempt_at": None
        if state in ("delivered", "gave_up")
        else _iso(delivery.next_attempt_at),
        "delivered_at": _iso(delivery.delivered_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
