"""The emulator's memory: in-flight requests per key and pool, a ledger of what it served, counters."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass
class EmulatorState:
    in_flight: Counter[tuple[str, str]] = field(default_factory=Counter)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, key: str, pool: str, limit: int) -> int | None:
        """Take a place in the pool; the new in-flight count, or None when the pool is full."""
        with self.lock:
            if self.in_flight[(key, pool)] >= limit:
                return None
            self.in_flight[(key, pool)] += 1
            return self.in_flight[(key, pool)]

    def leave(self, key: str, pool: str) -> None:
        with self.lock:
            self.in_flight[(key, pool)] -= 1

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

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
                "too_many_concurrent": self.statuses[429],
                "in_flight": {f"{k}:{p}": n for (k, p), n in self.in_flight.items() if n},
                "generations": len(self.ledger),
            }
