"""A batch's progress as a wait sees it at each poll, and whether the wait is over for it: shared
by ``audiobatch submit --wait``/``run`` and :meth:`audiobatch.Client.wait`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from audiobatch.db.clock import database_now
from audiobatch.db.models import TERMINAL_BATCH_STATUSES, Batch, BatchStatus
from audiobatch.db.progress import batch_eta, recent_rate, stitching_episodes
from audiobatch.db.reports import batch_counts
from audiobatch.db.session import session_scope
from audiobatch.eta import Eta

PAUSE_SETTLE_S = 10.0  # how long a paused batch's running jobs may take to finish before the end

DONE_STATES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class BatchState:
    """A batch as the last poll saw it."""

    id: str
    name: str
    status: BatchStatus
    reason: str | None
    counts: dict[str, int]
    stitching: int  # episodes whose parts are all rendered, being joined now
    eta: Eta

    @property
    def done(self) -> int:
        return sum(self.counts[s] for s in DONE_STATES)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def phase(self) -> tuple[BatchStatus, bool, str | None]:
        """What a new plain line is printed for when it changes."""
        has_eta = self.eta.seconds_left is not None
        return self.status, bool(self.stitching), "eta" if has_eta else self.eta.reason


def batch_states(database_url: str, batch_ids: Sequence[str]) -> dict[str, BatchState]:
    """Each batch as it stands: its counts, episodes being stitched, and ETA."""
    with session_scope(database_url) as session:
        counts = batch_counts(session, batch_ids)
        return {
            batch_id: _state(session, session.get_one(Batch, batch_id), counts[batch_id])
            for batch_id in batch_ids
        }


def _state(session: Session, batch: Batch, counts: dict[str, int]) -> BatchState:
    now = database_now(session)
    left = sum(n for status, n in counts.items() if status not in DONE_STATES)
    ended = batch.status in TERMINAL_BATCH_STATUSES
    return BatchState(
        batch.id, batch.name, batch.status, batch.status_reason, counts,
        stitching=0 if ended else stitching_episodes(session, batch.id),
        eta=batch_eta(session, batch, left, now, recent_rate(session, batch, now)),
    )  # fmt: skip


def settled(state: BatchState, paused_since: dict[str, float]) -> bool:
    """Whether a wait is over for the batch: it has ended, or it has paused and its running jobs
    have finished (or ``PAUSE_SETTLE_S`` has passed since the pause was first seen, which
    ``paused_since`` keeps between polls)."""
    if state.status in TERMINAL_BATCH_STATUSES:
        return True
    if state.status is not BatchStatus.PAUSED:
        paused_since.pop(state.id, None)  # resumed meanwhile
        return False
    since = paused_since.setdefault(state.id, time.monotonic())
    return not state.counts["running"] or time.monotonic() - since >= PAUSE_SETTLE_S
