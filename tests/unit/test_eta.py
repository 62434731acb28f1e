"""The ETA of a batch: the jobs left over the recent rate, or the reason there is none."""

from __future__ import annotations

import pytest

from audiobatch.cli.progress import duration
from audiobatch.eta import MEASURING, NO_LIVE_WORKER, PAUSED, Eta, estimate_eta


def test_the_eta_is_the_jobs_left_over_the_recent_rate() -> None:
    assert estimate_eta(30, 0.5) == Eta(60.0)
    assert estimate_eta(1, 4.0) == Eta(0.25)


def test_a_batch_with_nothing_left_has_neither_eta_nor_reason() -> None:
    assert estimate_eta(0, 2.0) == Eta(None)
    assert estimate_eta(0, None, workers_live=False) == Eta(None)


def test_without_a_recent_rate_the_eta_waits_for_a_job_to_end() -> None:
    assert estimate_eta(5, None) == Eta(None, MEASURING)
    assert estimate_eta(5, 0.0) == Eta(None, MEASURING)


def test_no_live_worker_hides_the_eta_even_with_a_recent_rate() -> None:
    assert estimate_eta(5, 1.0, workers_live=False) == Eta(None, NO_LIVE_WORKER)


def test_a_paused_batch_has_no_eta() -> None:
    assert estimate_eta(5, 1.0, active=False, workers_live=False) == Eta(None, PAUSED)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0m00s"), (7, "0m07s"), (245, "4m05s"), (3599.6, "1h00m"), (3720, "1h02m")],
)
def test_durations_read_in_minutes_and_seconds_or_hours_and_minutes(
    seconds: float, text: str
) -> None:
    assert duration(seconds) == text
