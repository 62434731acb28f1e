"""The activity chart's axes: round ticks of jobs a bucket, wall times of the dashboard's zone at
the bucket edges, the unit of each axis, and the totals of its legend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from audiobatch.dashboard.chart import PLOT_BOTTOM, chart, round_step
from audiobatch.db.activity import Bucket

START = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


def buckets(counts: list[int], width: timedelta = timedelta(minutes=30)) -> list[Bucket]:
    return [
        Bucket(
            START + n * width, START + (n + 1) * width, succeeded=c, failed=n % 2, failed_attempts=1
        )
        for n, c in enumerate(counts)
    ]


@pytest.mark.parametrize(
    ("peak", "step"), [(1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (48, 10), (240, 50), (9999, 2000)]
)
def test_the_y_step_is_one_two_or_five_times_a_power_of_ten(peak: int, step: int) -> None:
    assert round_step(peak) == step


def test_the_y_axis_counts_jobs_a_bucket_from_zero_past_the_tallest_bar() -> None:
    drawn = chart(buckets([3, 7, 0, 12]), ZoneInfo("UTC"))
    assert [t.label for t in drawn.y_ticks] == ["0", "5", "10", "15"]
    assert drawn.y_ticks[0].at == PLOT_BOTTOM
    assert drawn.y_title == "jobs / 30.0 min"
    tallest = drawn.bars[3]
    assert drawn.y_ticks[-1].at < tallest.failed_y < tallest.ok_y < PLOT_BOTTOM


def test_the_x_axis_shows_wall_times_of_the_zone_it_names() -> None:
    drawn = chart(buckets([1] * 48), ZoneInfo("Europe/Berlin"))  # 24 hours from 09:00 CET
    labels = [t.label for t in drawn.x_ticks]
    assert labels[0] == "09:00" and labels[-1] == "09:00"
    assert len(labels) <= 6
    assert drawn.x_title == "time (CET)"
    assert "2026-01-15 09:00:00 CET" in drawn.bars[0].label
    assert drawn.x_ticks[0].at == drawn.left and drawn.x_ticks[-1].at == pytest.approx(drawn.right)


def test_the_legend_sums_every_bucket() -> None:
    drawn = chart(buckets([3, 7, 0, 12]), ZoneInfo("UTC"))
    assert (drawn.succeeded, drawn.failed, drawn.failed_attempts) == (22, 2, 4)


def test_a_chart_of_no_buckets_still_has_its_axes() -> None:
    drawn = chart([], ZoneInfo("UTC"))
    assert drawn.bars == [] and drawn.x_ticks == []
    assert [t.label for t in drawn.y_ticks] == ["0", "1"]
