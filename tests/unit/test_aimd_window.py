"""The AIMD window as a table: throttling halves it, successes grow it, the ceiling bounds it."""

from __future__ import annotations

from audiobatch.limiter import DECREASE_COOLDOWN_S, Window


def test_a_throttle_halves_the_window_but_never_below_one() -> None:
    w = Window.of(8)
    w.on_throttled(0.0)
    assert w.limit == 4
    for i in range(1, 10):
        w.on_throttled(i * DECREASE_COOLDOWN_S)
    assert w.limit == 1 and w.slots == 1


def test_throttles_within_the_cooldown_count_once() -> None:
    w = Window.of(8)
    w.on_throttled(10.0)
    w.on_throttled(10.0 + DECREASE_COOLDOWN_S / 2)
    assert w.limit == 4


def test_successes_add_about_one_slot_per_window_of_requests() -> None:
    w = Window(size=8, ceiling=8, limit=4.0)
    for _ in range(4):
        w.on_success(None)
    assert 4.9 < w.limit < 5.1


def test_the_window_never_exceeds_the_configured_size() -> None:
    w = Window.of(3)
    for _ in range(100):
        w.on_success(50)
    assert (w.ceiling, w.limit) == (3, 3)


def test_a_smaller_maximum_from_the_api_lowers_the_ceiling() -> None:
    w = Window.of(10)
    w.on_success(4)
    assert (w.ceiling, w.limit, w.slots) == (4, 4, 4)
