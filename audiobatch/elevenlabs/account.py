"""The account behind an API key: GET /v1/user/subscription, read into what a batch's fit needs.

The answer (the official SDKs' ``Subscription`` model) holds ``tier``, ``character_count`` (the
credits used since the last reset), ``character_limit`` and ``next_character_count_reset_unix``,
among fields audiobatch does not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    """The fields audiobatch reads; an answer without them is an :class:`ApiTransportError`."""
    count, limit = body.get("character_count"), body.get("character_limit")
    if not isinstance(count, int) or not isinstance(limit, int):
        raise ApiTransportError(
            "the subscription answer has no whole character_count and character_limit",
            request_id=request_id,
        )
    reset = body.get("next_character_count_reset_unix")
    return Subscription(
        tier=str(body.get("tier", "")),
        character_count=count,
        character_limit=limit,
        next_reset_at=datetime.fromtimestamp(reset, UTC) if isinstance(reset, int) else None,
    )
