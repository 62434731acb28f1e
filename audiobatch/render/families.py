"""Job families: which Celery queue carries a kind's wake-ups and which limiter pool it draws from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    queue: str
    pool: str  # the API limits music (with stems) separately from everything else


FAMILIES: dict[str, Family] = {
    "dialogue": Family(queue="dialogue", pool="general"),
    "voice_change": Family(queue="voice", pool="general"),
    "music": Family(queue="music", pool="music"),
    "music_plan": Family(queue="music", pool="music"),
    "stems": Family(queue="stems", pool="music"),
}

CONTROL_QUEUE = "control"
QUEUES: tuple[str, ...] = ("dialogue", "music", "stems", "voice", CONTROL_QUEUE)
