"""How long a batch has left, from the rate at which its jobs ended lately.

The rate is measured over a sliding window (:data:`audiobatch.db.progress.RATE_WINDOW_S`); the
estimate is the jobs left over that rate. When no estimate can be made, :class:`Eta` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_LIVE_WORKER = "no live worker"
PAUSED = "paused"
MEASURING = "no job ended lately"


@dataclass(frozen=True)
class Eta:
    """Seconds left, or None with the reason there is no estimate (None too when nothing is
    left)."""

    seconds_left: float | None
    reason: str | None = None


def estimate_eta(
    jobs_left: int, jobs_per_s: float | None, *, active: bool = True, workers_live: bool = True
) -> Eta:
    """The time ``jobs_left`` take at ``jobs_per_s``; none for a batch not ``active`` (paused),
    one whose jobs wait on queues with no live worker, or one with no recent rate."""
    if jobs_left <= 0:
        return Eta(None)
    if not active:
        return Eta(None, PAUSED)
    if not workers_live:
        return Eta(None, NO_LIVE_WORKER)
    if not jobs_per_s:
        return Eta(None, MEASURING)
    return Eta(jobs_left / jobs_per_s)
