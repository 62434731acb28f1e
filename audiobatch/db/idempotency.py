"""Idempotency keys of submissions: a client that sends a submission again with the same
``Idempotency-Key`` (its answer lost, its process restarted) gets the batch the first one made,
and nothing is written twice. The key is recorded in the transaction that writes the batch; two
submissions with one key at once are serialised by a lock on the key (PostgreSQL: an advisory
lock; SQLite serialises writing transactions already), and the key's primary key backs it up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from audiobatch.db.models import SubmissionKey
from audiobatch.db.session import hold_locks, lock_key
from audiobatch.errors import IdempotencyKeyReusedError

MAX_KEY_CHARS = 255


@dataclass(frozen=True)
class Idempotency:
    """A submission's key and what identifies its request (the manifest's digest and the
    options that change what is written)."""

    key: str
    request_sha256: str


def earlier_batch(session: Session, idempotency: Idempotency) -> str | None:
    """The batch an earlier submission with this key made, or None; locks the key until the
    transaction ends. Raises :class:`IdempotencyKeyReusedError` when the key came with another
    request."""
    hold_locks(session, [lock_key(idempotency.key)])
    found = session.get(SubmissionKey, idempotency.key)
    if found is None:
        return None
    if found.request_sha256 != idempotency.request_sha256:
        raise IdempotencyKeyReusedError(
            f"Idempotency-Key {idempotency.key!r} was sent with another submission "
            f"(batch {found.batch_id}): use a new key for a new request"
        )
    return found.batch_id


def record_key(session: Session, idempotency: Idempotency, batch_id: str, now: datetime) -> None:
    session.add(
        SubmissionKey(
            key=idempotency.key,
            batch_id=batch_id,
            request_sha256=idempotency.request_sha256,
            created_at=now,
        )
    )
