"""Wrong tokens counted per address within a sliding minute (the clock is a fake)."""

from __future__ import annotations

from audiobatch.dashboard.throttle import MAX_CLIENTS, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_an_address_is_refused_after_five_failures_until_the_first_is_a_minute_old() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, clock)
    for second in range(5):
        assert throttle.retry_after_s("10.0.0.1") is None
        clock.now_s = 1000.0 + second * 10
        throttle.failed("10.0.0.1")
    assert throttle.retry_after_s("10.0.0.1") == 20  # the first failure, at 1000, is 40 s old
    assert throttle.retry_after_s("10.0.0.2") is None  # another address is not held back
    clock.now_s = 1059.5
    assert throttle.retry_after_s("10.0.0.1") == 1
    clock.now_s = 1060.0
    assert throttle.retry_after_s("10.0.0.1") is None  # four failures within the last minute
    throttle.failed("10.0.0.1")
    assert throttle.retry_after_s("10.0.0.1") == 10


def test_memory_is_bounded_by_forgetting_the_address_that_failed_longest_ago() -> None:
    clock = Clock()
    throttle = LoginThrottle(1, clock)
    throttle.failed("first")
    for n in range(MAX_CLIENTS):
        throttle.failed(f"client-{n}")
    assert throttle.retry_after_s("first") is None
    assert throttle.retry_after_s(f"client-{MAX_CLIENTS - 1}") == 60
