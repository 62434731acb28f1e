"""How slowly an answer's body may arrive: a deadline for small JSON answers, a floor on the
average rate of audio ones after a grace window, judged on a clock the test moves."""

from __future__ import annotations

from audiobatch.elevenlabs.client import Timeouts
from audiobatch.elevenlabs.pace import Pace, PaceWatch


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def reads(watch: PaceWatch, clock: Clock, size_bytes: int, every_s: float, count: int) -> list[str]:
    """Feed ``count`` reads of ``size_bytes``, one every ``every_s``; what the watch said."""
    said = []
    for _ in range(count):
        clock.now_s += every_s
        problem = watch.arrived(size_bytes)
        if problem is not None:
            said.append(problem)
    return said


AUDIO = Pace(floor_bytes_per_s=1000, window_s=30)


def test_a_json_answer_within_its_deadline_passes() -> None:
    clock = Clock()
    watch = Pace(deadline_s=5).watch(clock)
    assert reads(watch, clock, 100, 0.4, 12) == []


def test_a_json_answer_past_its_deadline_says_what_arrived_and_when() -> None:
    clock = Clock()
    watch = Pace(deadline_s=5).watch(clock)
    said = reads(watch, clock, 1, 0.5, 12)
    assert said == ["the API sent 12 bytes in 5.5 s, slower than the 5 s a whole answer may take"]


def test_the_wait_for_a_json_answers_first_byte_is_not_its_deadlines() -> None:
    clock = Clock()
    watch = Pace(deadline_s=5).watch(clock)
    assert watch.arrived(0) is None  # an empty read is no first byte
    clock.now_s += 60  # the headers came at once, the body after its generation
    assert reads(watch, clock, 100, 0.4, 12) == []


def test_a_stream_at_the_slowest_formats_real_time_rate_is_never_stopped() -> None:
    clock = Clock()
    watch = AUDIO.watch(clock)
    assert reads(watch, clock, 4000, 1.0, 600) == []  # 32 kbit/s for ten minutes
    assert reads(watch, clock, 40_000, 10.0, 60) == []  # or in bursts, ten seconds apart


def test_a_trickle_is_stopped_once_a_window_has_passed_since_its_first_byte() -> None:
    clock = Clock()
    watch = AUDIO.watch(clock)
    clock.now_s += 500  # the wait for the first byte is the read timeout's business
    assert reads(watch, clock, 1, 0.5, 60) == []  # the first window is its grace
    said = reads(watch, clock, 1, 0.5, 1)
    assert said == ["the API sent 60 bytes in 30.0 s, slower than 1000 bytes/s"]


def test_large_reads_far_apart_are_averaged_over_the_gap_between_them() -> None:
    clock = Clock()
    watch = AUDIO.watch(clock)
    said = reads(watch, clock, 64 * 1024, 119.0, 2)  # 550 bytes/s, silent under the read timeout
    assert said == ["the API sent 65536 bytes in 119.0 s, slower than 1000 bytes/s"]


def test_a_stream_that_stalls_after_a_fast_start_is_stopped_a_window_later() -> None:
    clock = Clock()
    watch = AUDIO.watch(clock)
    assert reads(watch, clock, 16_000, 1.0, 60) == []
    said = reads(watch, clock, 10, 2.0, 30)
    assert said and said[0].startswith("the API sent") and "slower than 1000 bytes/s" in said[0]


def test_the_default_timeouts_give_json_a_deadline_and_audio_a_floor() -> None:
    timeouts = Timeouts()
    assert timeouts.json_pace() == Pace(deadline_s=timeouts.json_answer_s)
    assert timeouts.audio_pace() == Pace(
        floor_bytes_per_s=timeouts.min_audio_bytes_per_s, window_s=timeouts.audio_window_s
    )
