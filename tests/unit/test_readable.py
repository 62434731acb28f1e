"""Times, sizes, durations and counts as people read them: in the configured zone with its
abbreviation, relative to now, in kB/MB, as m:ss, in s/min, with the thousands apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from audiobatch.readable import (
    clock_duration,
    count_text,
    elapsed_text,
    local_time,
    relative_time,
    size_text,
    time_zone,
)

SUMMER = datetime(2026, 7, 1, 12, 30, 45, tzinfo=UTC)
WINTER = datetime(2026, 1, 15, 12, 30, tzinfo=UTC)


def test_a_time_reads_as_the_wall_time_of_the_zone_with_its_abbreviation() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert local_time(SUMMER, berlin) == "2026-07-01 14:30 CEST"
    assert local_time(WINTER, berlin) == "2026-01-15 13:30 CET"
    assert local_time(SUMMER, ZoneInfo("UTC"), seconds=True) == "2026-07-01 12:30:45 UTC"
    assert local_time(WINTER, ZoneInfo("America/New_York")) == "2026-01-15 07:30 EST"


@pytest.mark.parametrize(
    ("offset", "says"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=-40), "40 s ago"),
        (timedelta(minutes=-3, seconds=-20), "3 min ago"),
        (timedelta(hours=2, minutes=5), "in 2 h"),
        (timedelta(days=-3, hours=-1), "3 d ago"),
    ],
)
def test_a_time_reads_relative_to_now(offset: timedelta, says: str) -> None:
    assert relative_time(SUMMER + offset, SUMMER) == says


@pytest.mark.parametrize(
    ("size", "says"),
    [(0, "0 B"), (999, "999 B"), (1_234, "1.2 kB"), (365_120, "365 kB"), (36_500_000, "36.5 MB"),
     (999_999_999, "1.0 GB"), (999_950, "1.0 MB"), (99_960, "100 kB"), (99_940, "99.9 kB"),
     (2_500_000_000, "2.5 GB")],
)  # fmt: skip
def test_sizes_read_in_decimal_units(size: int, says: str) -> None:
    assert size_text(size) == says


@pytest.mark.parametrize(
    ("seconds", "says"), [(0.4, "0:00"), (7.4, "0:07"), (245, "4:05"), (3729, "1:02:09")]
)
def test_audio_lengths_read_as_a_clock(seconds: float, says: str) -> None:
    assert clock_duration(seconds) == says


@pytest.mark.parametrize(
    ("seconds", "says"), [(0.8, "0.8 s"), (12.3, "12 s"), (95.4, "1.6 min"), (9000, "2.5 h")]
)
def test_render_times_read_in_seconds_or_minutes(seconds: float, says: str) -> None:
    assert elapsed_text(seconds) == says


def test_an_unknown_zone_is_refused_with_what_to_use() -> None:
    with pytest.raises(ValueError, match=r"unknown time zone 'Mars/Olympus'.*IANA name"):
        time_zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("count", "says"), [(0, "0"), (950, "950"), (1_205, "1,205"), (12_345_678, "12,345,678")]
)
def test_a_count_reads_with_its_thousands_apart(count: int, says: str) -> None:
    assert count_text(count) == says
