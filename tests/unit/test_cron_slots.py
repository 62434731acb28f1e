"""Cron slots in IANA zones, across daylight-saving changes: pure arithmetic, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audiobatch.errors import ScheduleError
from audiobatch.scheduler.cron import parse_cron, slots_of


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "zone", "after", "expected"),
    [
        # an ordinary night: 02:30 CET is 01:30 UTC
        ("30 2 * * *", "Europe/Berlin", "2025-03-28 12:00", "2025-03-29 01:30"),
        # spring forward in Berlin (02:00 CET -> 03:00 CEST): 02:30 does not exist, fires at 03:00
        ("30 2 * * *", "Europe/Berlin", "2025-03-29 12:00", "2025-03-30 01:00"),
        ("30 2 * * *", "Europe/Berlin", "2025-03-30 01:00", "2025-03-31 00:30"),
        # fall back in Berlin (03:00 CEST -> 02:00 CET): 02:30 happens twice, fires the first time
        ("30 2 * * *", "Europe/Berlin", "2025-10-25 12:00", "2025-10-26 00:30"),
        ("30 2 * * *", "Europe/Berlin", "2025-10-26 00:30", "2025-10-27 01:30"),
        # New York, spring forward (02:00 EST -> 03:00 EDT) and fall back (02:00 EDT -> 01:00 EST)
        ("30 2 * * *", "America/New_York", "2025-03-08 12:00", "2025-03-09 07:00"),
        ("30 1 * * *", "America/New_York", "2025-11-01 12:00", "2025-11-02 05:30"),
        ("30 1 * * *", "America/New_York", "2025-11-02 05:30", "2025-11-03 06:30"),
        # a slot outside the changed hour is untouched by it
        ("0 4 * * *", "America/New_York", "2025-03-08 12:00", "2025-03-09 08:00"),
        # both day fields restricted: the 13th or a Friday, whichever comes first
        ("0 0 13 * 5", "UTC", "2025-06-01 00:00", "2025-06-06 00:00"),
        ("0 0 13 * fri", "UTC", "2025-06-10 00:00", "2025-06-13 00:00"),
        # day of week restricted, day of month a wildcard: Mondays only
        ("0 9 * * mon", "UTC", "2025-06-01 00:00", "2025-06-02 09:00"),
        ("15,45 */6 * jan-mar 7", "UTC", "2026-01-01 00:00", "2026-01-04 00:15"),
        ("15,45 */6 1-7 jan-mar 7", "UTC", "2026-01-01 00:00", "2026-01-01 00:15"),
        ("@daily", "Asia/Kolkata", "2025-06-01 00:00", "2025-06-01 18:30"),
        ("0 0 29 2 *", "UTC", "2025-01-01 00:00", "2028-02-29 00:00"),
    ],
)
def test_the_next_slot_is_the_first_wall_time_that_fires_after_the_instant(
    cron: str, zone: str, after: str, expected: str
) -> None:
    assert slots_of(cron, zone).next_after(utc(after)) == utc(expected)


def test_slots_skipped_by_a_spring_forward_gap_fire_once_together() -> None:
    slots = slots_of("*/15 2 * * *", "Europe/Berlin")
    first = slots.next_after(utc("2025-03-29 23:00"))
    assert first == utc("2025-03-30 01:00")  # 02:00, 02:15, 02:30, 02:45 all fire at 03:00 CEST
    assert slots.next_after(first) == utc("2025-03-31 00:00")  # 02:00 CEST the next night


def _slots_of_day(cron: str, zone: str, start: str, hours: int) -> list[datetime]:
    slots, moment, found = slots_of(cron, zone), utc(start), []
    end = moment + timedelta(hours=hours)
    while (moment := slots.next_after(moment)) < end:
        found.append(moment)
    return found


def test_an_hourly_schedule_fires_once_per_wall_hour_on_both_change_days() -> None:
    # Berlin local days: 30 March 2025 has 23 hours, 26 October 2025 has 25
    spring = _slots_of_day("0 * * * *", "Europe/Berlin", "2025-03-29 22:59", 23)
    autumn = _slots_of_day("0 * * * *", "Europe/Berlin", "2025-10-25 21:59", 25)
    assert len(spring) == 23 and len(set(spring)) == 23
    assert len(autumn) == 24  # 02:00 comes twice; it fires the first time only
    assert utc("2025-10-26 00:00") in autumn and utc("2025-10-26 01:00") not in autumn


@pytest.mark.parametrize(
    ("cron", "zone", "at", "expected"),
    [
        ("30 2 * * *", "Europe/Berlin", "2025-03-30 12:00", "2025-03-30 01:00"),
        ("30 2 * * *", "Europe/Berlin", "2025-03-30 00:59", "2025-03-29 01:30"),
        ("30 2 * * *", "Europe/Berlin", "2025-03-30 01:00", "2025-03-30 01:00"),  # inclusive
        # 02:40 CET, the second pass of the repeated hour: 02:45 CEST came before it
        ("*/15 * * * *", "Europe/Berlin", "2025-10-26 01:40", "2025-10-26 00:45"),
        ("*/15 * * * *", "Europe/Berlin", "2025-10-26 02:00", "2025-10-26 02:00"),
        ("30 1 * * *", "America/New_York", "2025-11-02 06:59", "2025-11-02 05:30"),
    ],
)
def test_the_latest_slot_is_the_last_one_that_fired_at_or_before_the_instant(
    cron: str, zone: str, at: str, expected: str
) -> None:
    assert slots_of(cron, zone).latest_at_or_before(utc(at)) == utc(expected)


def test_fields_accept_lists_ranges_steps_and_names() -> None:
    cron = parse_cron("0,30 9-17/4 */10 JAN,jul 1-5")
    assert cron.minutes == {0, 30}
    assert cron.hours == {9, 13, 17}
    assert cron.days == {1, 11, 21, 31}
    assert cron.months == {1, 7}
    assert cron.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday, like 0


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("61 * * * *", "minute '61': 61 is outside 0-59"),
        ("0 24 * * *", "hour '24'"),
        ("0 0 0 * *", "day of month '0'"),
        ("0 0 * 13 *", "month '13'"),
        ("0 0 * * funday", "'funday' is not a number or a name"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 5-2 * * *", "range '5-2' runs backwards"),
        ("0 0 30 2 *", "names no time in the next eight years"),
    ],
)
def test_an_invalid_cron_expression_is_refused_with_the_reason(cron: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        slots_of(cron, "UTC")


@pytest.mark.parametrize("zone", ["Europe/Berlinn", "CEST", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_with_examples(zone: str) -> None:
    with pytest.raises(ScheduleError, match="IANA name such as Europe/Berlin"):
        slots_of("0 2 * * *", zone)
