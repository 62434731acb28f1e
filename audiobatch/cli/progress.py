"""Waiting for batches until each has ended or paused, optionally driving the reconciler tick
meanwhile.

On a terminal the wait shows a progress bar. Elsewhere (a pipe, a CI log) it prints a plain line
per batch when its phase changes (its status, whether it is stitching episodes, whether it has an
ETA) and every ``line_interval_s``, so a log shows life without control characters. Both show the
ETA from the batch's recent rate, or why there is none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from audiobatch.batch_states import BatchState, batch_states, settled
from audiobatch.db.models import BatchStatus

POLL_S = 0.5  # a poll reads counts, ETA, stitching: at 0.1 s it took half a core from the worker
LINE_INTERVAL_S = 15.0  # a progress line per batch this often when output is not a terminal


class _Display(AbstractContextManager["_Display"]):
    def show(self, state: BatchState) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _Bar(_Display):
    """A progress bar per batch, redrawn in place (a terminal)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def show(self, state: BatchState) -> None:
        if state.id not in self._tasks:
            self._tasks[state.id] = self._progress.add_task(state.id, total=None, detail="")
        self._progress.update(
            self._tasks[state.id],
            description=f"{escape(state.name)} \\[{state.id}]",
            total=state.total,
            completed=state.done,
            detail=describe(state),
        )


class _Lines(_Display):
    """A plain line per batch when its status changes and every ``interval_s`` (a pipe, a log)."""

    def __init__(self, console: Console, interval_s: float) -> None:
        self._console, self._interval_s = console, interval_s
        self._started = time.monotonic()
        self._last: dict[str, tuple[float, tuple[BatchStatus, bool, str | None]]] = {}

    def show(self, state: BatchState) -> None:
        now = time.monotonic()
        last = self._last.get(state.id)
        if last is not None and last[1] == state.phase and now - last[0] < self._interval_s:
            return
        self._last[state.id] = (now, state.phase)
        self._console.print(
            f"{state.name} [{state.id}]: {state.done}/{state.total} ended, {describe(state)} "
            f"({duration(now - self._started)})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def wait_for_batches(
    database_url: str,
    batch_ids: Sequence[str],
    console: Console,
    *,
    on_poll: Sequence[Callable[[], None]] = (),
    on_interrupt: Callable[[list[BatchState]], None] | None = None,
    line_interval_s: float = LINE_INTERVAL_S,
) -> dict[str, BatchState]:
    """Block until every batch has ended or paused, calling each ``on_poll`` hook at every
    poll; each batch's last state.

    A paused batch counts once its running jobs have finished, or after ``PAUSE_SETTLE_S``.
    On Ctrl-C, ``on_interrupt`` is given the latest states, then KeyboardInterrupt goes on.
    """
    display = _Bar(console) if console.is_terminal else _Lines(console, line_interval_s)
    latest: dict[str, BatchState] = {}
    paused_since: dict[str, float] = {}
    try:
        with display:
            while True:
                for hook in on_poll:
                    hook()
                latest = batch_states(database_url, batch_ids)
                for state in latest.values():
                    display.show(state)
                if all(settled(state, paused_since) for state in latest.values()):
                    return latest
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt(list(latest.values()))
        raise


def describe(state: BatchState) -> str:
    """The batch's status, jobs by state, episodes stitching, and ETA (or why there is none)."""
    parts = [state.status.value]
    for status in ("running", "queued", "retrying", "paused", "failed"):
        if state.counts.get(status):
            parts.append(f"{state.counts[status]} {status}")
    if state.stitching:
        parts.append(f"stitching {state.stitching} episode{'s' if state.stitching > 1 else ''}")
    if state.eta.seconds_left is not None:
        parts.append(f"ETA {duration(state.eta.seconds_left)}")
    elif state.eta.reason:
        parts.append(f"no ETA: {state.eta.reason}")
    return ", ".join(parts)


def duration(seconds: float) -> str:
    """A span of time as ``1h02m``, ``4m05s`` or ``0m07s``."""
    whole_s = round(seconds)
    if whole_s >= 3600:
        return f"{whole_s // 3600}h{whole_s % 3600 // 60:02d}m"
    return f"{whole_s // 60}m{whole_s % 60:02d}s"


def ticker(every_s: float, action: Callable[[], object]) -> Callable[[], None]:
    """A poll hook that runs ``action`` at most every ``every_s`` seconds."""
    last = 0.0

    def maybe_tick() -> None:
        nonlocal last
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            action()

    return maybe_tick
