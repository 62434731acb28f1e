"""The emulator's memory: in-flight requests and characters spent per key, a ledger, counters."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

QUOTA_PERIOD_S = 30 * 24 * 3600.0  # the API resets an account's quota monthly
UNLIMITED_CHARS = 10**12  # the limit an emulator without a quota reports


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass
class EmulatorState:
    in_flight: Counter[tuple[str, str]] = field(default_factory=Counter)
    peak_in_flight: Counter[tuple[str, str]] = field(default_factory=Counter)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    over_limit: int = 0  # 429s for too many concurrent requests (not the busy ones)
    spent: Counter[str] = field(default_factory=Counter)  # characters charged, per key hash
    quota_chars: int | None = None  # every key's quota; None is unlimited
    quota_period_s: float = QUOTA_PERIOD_S  # what every key spent is forgotten this often
    next_reset_at: float = 0.0  # unix time of the next reset; set from the period on creation
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.next_reset_at = self.next_reset_at or time.time() + self.quota_period_s

    def _reset_when_due(self) -> None:
        """Start a new period, as the account's monthly reset does, once the last one is over
        (under the lock)."""
        now = time.time()
        if now < self.next_reset_at:
            return
        self.spent.clear()
        periods = (now - self.next_reset_at) // self.quota_period_s + 1
        self.next_reset_at += periods * self.quota_period_s

    def enter(self, key: str, pool: str, limit: int) -> int | None:
        """Take a place in the pool; the new in-flight count, or None when the pool is full."""
        with self.lock:
            if self.in_flight[(key, pool)] >= limit:
                return None
            self.in_flight[(key, pool)] += 1
            now = self.in_flight[(key, pool)]
            self.peak_in_flight[(key, pool)] = max(self.peak_in_flight[(key, pool)], now)
            return now

    def leave(self, key: str, pool: str) -> None:
        with self.lock:
            self.in_flight[(key, pool)] -= 1

    def reserve(self, key: str, cost: int) -> tuple[int, int] | None:
        """Spend ``cost`` characters of the key's quota now; (quota, remaining) when it cannot."""
        with self.lock:
            self._reset_when_due()
            if self.quota_chars is None:
                self.spent[key] += cost
                return None
            remaining = max(0, self.quota_chars - self.spent[key])
            if cost > remaining or not remaining:
                return (self.quota_chars, remaining)
            self.spent[key] += cost
            return None

    def charge(self, key: str, characters: int) -> None:
        """Add to (or, negative, refund) what the key has spent."""
        with self.lock:
            self.spent[key] += characters

    def grant(self, characters: int) -> int:
        """Raise every key's quota by ``characters`` (a plan upgrade); the new quota."""
        with self.lock:
            self.quota_chars = (self.quota_chars or 0) + characters
            return self.quota_chars

    def subscription(self, key: str) -> dict[str, Any]:
        """The key's ``GET /v1/user/subscription`` answer, in the API's shape, from its quota
        (an unlimited quota shows as :data:`UNLIMITED_CHARS`)."""
        with self.lock:
            self._reset_when_due()
            return {
                "tier": "emulator",
                "character_count": self.spent[key],
                "character_limit": UNLIMITED_CHARS
                if self.quota_chars is None
                else self.quota_chars,
                "can_extend_character_limit": False,
                "allowed_to_extend_character_limit": False,
                "next_character_count_reset_unix": math.ceil(self.next_reset_at),
                "voice_limit": 10,
                "professional_voice_limit": 0,
                "can_extend_voice_limit": False,
                "can_use_instant_voice_cloning": False,
                "can_use_professional_voice_cloning": False,
                "status": "active",
            }

    def count(self, status: int, *, over_limit: bool = False) -> None:
        """Count an answer; ``over_limit`` marks a 429 for too many concurrent requests."""
        with self.lock:
            self.statuses[status] += 1
            self.over_limit += over_limit

    def record(self, request_id: str, path: str, body: bytes, audio_sha256: str, key: str) -> None:
        with self.lock:
            self.ledger.append(
                {
                    "request_id": request_id,
                    "path": path,
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "bytes": len(body),
                    "audio_sha256": audio_sha256,
                    "key_hash": key,
                    "at": time.time(),
                }
            )

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
                "too_many_concurrent": self.over_limit,
                "in_flight": {f"{k}:{p}": n for (k, p), n in self.in_flight.items() if n},
                "peak_in_flight": {f"{k}:{p}": n for (k, p), n in self.peak_in_flight.items()},
                "generations": len(self.ledger),
                "characters_spent": sum(self.spent.values()),
                "quota_chars": self.quota_chars,
            }
