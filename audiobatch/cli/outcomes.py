"""How a wait for batches ends (``run``, ``submit --wait``): the exit code, what a paused batch
needs, and what is left when the wait is interrupted."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.console import Console

from audiobatch.batch_states import BatchState
from audiobatch.db.models import BatchStatus

SUCCESS, SOME_FAILED, PAUSED = 0, 1, 3
"""Exit codes of ``run`` and ``submit --wait`` (2, invalid input, comes from ``cli.main``)."""

LEFT_STATES = ("running", "queued", "retrying", "pending", "paused")


def exit_code(states: Iterable[BatchState]) -> int:
    """3 when a batch is paused (it needs someone), else 0 when all succeeded, else 1."""
    statuses = [state.status for state in states]
    if BatchStatus.PAUSED in statuses:
        return PAUSED
    return SUCCESS if all(s is BatchStatus.SUCCEEDED for s in statuses) else SOME_FAILED


def print_paused(console: Console, states: Iterable[BatchState], then: str = "") -> None:
    """For every paused batch: why, and the command that continues it (``then`` follows it)."""
    for state in states:
        if state.status is not BatchStatus.PAUSED:
            continue
        console.print(
            f"batch {state.name} [{state.id}]: {state.reason or 'paused'}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  to continue it: `audiobatch resume {state.id}`{then}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def interrupted_notice(console: Console, after: str) -> Callable[[list[BatchState]], None]:
    """What Ctrl-C prints: each batch's jobs left, then ``after`` (what goes on, how to go on)."""

    def notice(states: list[BatchState]) -> None:
        console.print("interrupted", markup=False, highlight=False)
        for state in states:
            left = ", ".join(f"{state.counts[s]} {s}" for s in LEFT_STATES if state.counts[s])
            console.print(
                f"  {state.name} [{state.id}]: {state.status.value}, {left or 'nothing'} left; "
                f"see `audiobatch status {state.id}`",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        console.print(after, markup=False, highlight=False, soft_wrap=True)

    return notice
