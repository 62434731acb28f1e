"""The account behind an API key: GET /v1/user/subscription, read into what a batch's fit needs.

The answer (the official SDKs' ``Subscription`` model) holds ``tier``, ``character_count`` (the
credits used since the last reset), ``character_limit`` and ``next_character_count_reset_unix``,
among fields audiobatch does not read.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.errors import ApiTransportError

MAX_SUBSCRIPTION_BYTES = 64 * 1024


@dataclass(frozen=True)
class Subscription:
    """What the account has used of its quota, and when the quota starts again."""

    tier: str
    character_count: int  # credits used since the last reset
    character_limit: int
    next_reset_at: datetime | None

    @property
    def remaining(self) -> int:
        return max(0, self.character_limit - self.character_count)


def read_subscription(client: ElevenLabsClient) -> Subscription:
    """The key's subscription; an API error or a malformed answer raises as any answer does."""
    with client.user_subscription() as answer:
        body = answer.read_json(MAX_SUBSCRIPTION_BYTES)
        request_id = answer.request_id
    return parse_subscription(body, request_id)


def parse_subscription(body: dict[str, Any], request_id: str | None = None) -> Subscription:
    """The fields audiobatch reads; an answer without them is an :class:`ApiTransportError`. A
    reset time that is no time (absent, not a number, beyond the calendar) is an unknown one."""
    count, limit = body.get("character_count"), body.get("character_limit")
    if not _count(count) or not _count(limit):
        raise ApiTransportError(
            "the subscription answer has no whole, non-negative character_count and "
            f"character_limit (it sent {reprlib.repr(count)} and {reprlib.repr(limit)})",
            request_id=request_id,
        )
    return Subscription(
        tier=str(body.get("tier", "")),
        character_count=count,
        character_limit=limit,
        next_reset_at=_unix_time(body.get("next_character_count_reset_unix")),
    )


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unix_time(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # NaN, infinite, or beyond year 9999
        return None
