"""How slowly an answer's body may arrive: a deadline for a small JSON answer, a floor on the
average rate of an audio one.

The read timeout only limits the silence between two reads from the socket, so a server that
trickles its body (a byte every half second) would hold a call for ever. A :class:`PaceWatch` is
told of every read as it arrives and says when the body has fallen behind its :class:`Pace`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# How many marks a window of the rate floor keeps at most (a new one at most every 1/16 of it):
# a fast body's thousands of reads a second cost no memory, and the span a rate is averaged over
# is never shorter than the window.
MARKS_PER_WINDOW = 16


@dataclass(frozen=True)
class Pace:
    """The slowest a body may arrive, from its first byte (the wait for that byte, which may be
    a generation's minutes, is the read timeout's business). ``deadline_s``: all of it within
    this many seconds. ``floor_bytes_per_s``: once ``window_s`` has passed, at least this many
    bytes a second, averaged over the last ``window_s`` or more."""

    deadline_s: float | None = None
    floor_bytes_per_s: float = 0.0
    window_s: float = 0.0

    def watch(self, clock: Callable[[], float] = time.monotonic) -> PaceWatch:
        """A watch on one body."""
        return PaceWatch(self, clock)


UNPACED = Pace()  # a body read from local disk, not from the API


class PaceWatch:
    """One body's reads against its :class:`Pace`."""

    def __init__(self, pace: Pace, clock: Callable[[], float]) -> None:
        self._pace = pace
        self._clock = clock
        self._first_byte_s: float | None = None
        self._received_bytes = 0
        # (when, bytes received by then), oldest first, the first taken at the first byte
        self._marks: deque[tuple[float, int]] = deque()

    def arrived(self, size_bytes: int) -> str | None:
        """Note a read of ``size_bytes``; what the body did, when it has fallen behind."""
        if size_bytes == 0:
            return None
        now_s = self._clock()
        if self._first_byte_s is None:
            self._first_byte_s = now_s
        self._received_bytes += size_bytes
        pace = self._pace
        taken_s = now_s - self._first_byte_s
        if pace.deadline_s is not None and taken_s > pace.deadline_s:
            return (
                f"the API sent {self._received_bytes} bytes in {taken_s:.1f} s, slower than "
                f"the {pace.deadline_s:g} s a whole answer may take"
            )
        if pace.floor_bytes_per_s > 0:
            return self._below_floor(now_s)
        return None

    def _below_floor(self, now_s: float) -> str | None:
        marks, window_s = self._marks, self._pace.window_s
        if not marks or now_s - marks[-1][0] >= window_s / MARKS_PER_WINDOW:
            marks.append((now_s, self._received_bytes))
        if now_s - marks[0][0] < window_s:
            return None  # the first window is its grace
        while len(marks) > 1 and marks[1][0] <= now_s - window_s:
            marks.popleft()
        since_s, then_bytes = marks[0]
        span_s = now_s - since_s
        sent_bytes = self._received_bytes - then_bytes
        if sent_bytes >= self._pace.floor_bytes_per_s * span_s:
            return None
        return (
            f"the API sent {sent_bytes} bytes in {span_s:.1f} s, slower than "
            f"{self._pace.floor_bytes_per_s:g} bytes/s"
        )
