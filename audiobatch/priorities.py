"""Batch priorities: a number from 0 to 100, higher first, or one of three names for it.

Workers take the queued jobs of the highest priority batch first (a job already running is
never interrupted); among batches of one priority, the account's concurrency is shared: the next
job comes from the batch with the fewest jobs running (see :mod:`audiobatch.db.claims`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiobatch.errors import PriorityError
from audiobatch.suggestions import did_you_mean

if TYPE_CHECKING:
    from audiobatch.manifest import Manifest

NAMED = {"urgent": 90, "normal": 50, "bulk": 10}
"""The priorities a manifest, ``--priority`` or a form may name."""
DEFAULT = NAMED["normal"]
LOWEST, HIGHEST = 0, 100


def priority_problem(value: object) -> str | None:
    """Why ``value`` is no priority; None when it is one."""
    if isinstance(value, bool):
        return f"priority must be urgent, normal, bulk or a number from {LOWEST} to {HIGHEST}"
    if isinstance(value, int):
        if LOWEST <= value <= HIGHEST:
            return None
        return f"priority {value} is out of range: a number from {LOWEST} to {HIGHEST}"
    if isinstance(value, str):
        if value in NAMED or (value.isdigit() and LOWEST <= int(value) <= HIGHEST):
            return None
        return (
            f"unknown priority {value!r}{did_you_mean(value, NAMED)}: urgent, normal, bulk or "
            f"a number from {LOWEST} to {HIGHEST}"
        )
    return f"priority must be urgent, normal, bulk or a number from {LOWEST} to {HIGHEST}"


def as_priority(value: int | str) -> int:
    """The number of a priority :func:`priority_problem` accepted."""
    if isinstance(value, int):
        return value
    return NAMED[value] if value in NAMED else int(value)


def priority_name(priority: int) -> str:
    """``urgent``, ``normal`` or ``bulk`` for their numbers, else the number."""
    for name, number in NAMED.items():
        if number == priority:
            return name
    return str(priority)


def with_priority(manifest: Manifest, priority: int | str | None) -> Manifest:
    """The manifest at ``priority`` (a name or a number, as ``--priority`` or a caller gives it)
    rather than its own; unchanged when None. :class:`PriorityError` when it is no priority."""
    if priority is None:
        return manifest
    if problem := priority_problem(priority):
        raise PriorityError(problem)
    return manifest.model_copy(update={"priority": as_priority(priority)})
