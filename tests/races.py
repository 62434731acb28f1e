"""Racing actions: each in a thread of its own, released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def at_once(actions: Sequence[Callable[[], T]]) -> list[T]:
    """What each of ``actions`` returned, in their order, once all have run released together;
    the first exception one of them raised is raised again (a thread's error never passes
    unseen)."""
    barrier = threading.Barrier(len(actions))
    results: list[T | None] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]  # every action returned
