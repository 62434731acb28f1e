"""Waiting for batches with a progress bar, optionally driving the dispatcher tick meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audiobatch.db.models import TERMINAL_BATCH_STATUSES, Batch, BatchStatus
from audiobatch.db.reports import job_counts
from audiobatch.db.session import session_scope

POLL_S = 0.1  # one small query a poll

DONE_STATES = ("succeeded", "failed", "cancelled")


def wait_for_batches(
    database_url: str,
    batch_ids: Sequence[str],
    console: Console,
    *,
    on_poll: Callable[[], None] | None = None,
) -> dict[str, BatchStatus]:
    """Block until every batch has ended; returns each batch's final status."""
    final: dict[str, BatchStatus] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {
            batch_id: progress.add_task(batch_id, total=None, detail="") for batch_id in batch_ids
        }
        while len(final) < len(batch_ids):
            if on_poll is not None:
                on_poll()
            with session_scope(database_url) as session:
                for batch_id in batch_ids:
                    if batch_id in final:
                        continue
                    batch = session.get_one(Batch, batch_id)
                    counts = job_counts(session, batch_id)
                    done = sum(counts[s] for s in DONE_STATES)
                    progress.update(
                        tasks[batch_id],
                        description=f"{escape(batch.name)} \\[{batch.id}]",
                        total=sum(counts.values()),
                        completed=done,
                        detail=_detail(counts, batch.status),
                    )
                    if batch.status in TERMINAL_BATCH_STATUSES:
                        final[batch_id] = batch.status
            if len(final) < len(batch_ids):
                time.sleep(POLL_S)
    return final


def _detail(counts: dict[str, int], status: BatchStatus) -> str:
    parts = [f"{status.value}"]
    if status is BatchStatus.PAUSED:
        parts.append("see `audiobatch status`, then `audiobatch resume`")
    for state in ("running", "retrying", "failed"):
        if counts.get(state):
            parts.append(f"{counts[state]} {state}")
    return ", ".join(parts)


def ticker(every_s: float, action: Callable[[], object]) -> Callable[[], None]:
    """A poll hook that runs ``action`` at most every ``every_s`` seconds."""
    last = 0.0

    def maybe_tick() -> None:
        nonlocal last
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            action()

    return maybe_tick
