"""Wrong tokens, counted per client address: after too many within a minute the address is
refused (429, with the seconds to wait) until the oldest of them is a minute old.

Kept in the dashboard process's memory: a restart forgets the count, and several dashboard
processes count apart (each still caps what one client may try against it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from math import ceil
from threading import Lock

WINDOW_S = 60.0
MAX_CLIENTS = 10_000  # addresses remembered at most; the least recent is forgotten first


class LoginThrottle:
    def __init__(
        self, failures_per_window: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures_per_window = failures_per_window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = Lock()

    def retry_after_s(self, client: str) -> int | None:
        """Whole seconds ``client`` must wait before trying a token again; None if it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.failures_per_window:
                return None
            return max(1, ceil(recent[0] + WINDOW_S - self._clock()))

    def failed(self, client: str) -> None:
        """Count one wrong token from ``client``."""
        with self._lock:
            recent = self._recent(client)
            recent.append(self._clock())
            self._failures.pop(client, None)
            self._failures[client] = recent  # the client that failed last comes last
            if len(self._failures) > MAX_CLIENTS:
                del self._failures[next(iter(self._failures))]

    def _recent(self, client: str) -> deque[float]:
        """The client's failures within the window; older ones are forgotten."""
        failures = self._failures.get(client, deque())
        cutoff = self._clock() - WINDOW_S
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
