"""Cron slots in an IANA time zone: the instants a five-field cron expression names.

Fields are ``minute hour day-of-month month day-of-week``; each is ``*``, a number, a range
``a-b``, a list ``a,b,c`` or a step ``*/n``, ``a-b/n``, ``a/n``; months and weekdays may be named
(``jan``, ``mon``), weekday 0 and 7 are Sunday. ``@yearly``, ``@monthly``, ``@weekly``, ``@daily``
and ``@hourly`` stand for their usual expressions. When both day fields are restricted (neither
starts with ``*``), a day matching either one matches, as in cron.

Slots are wall-clock times of the schedule's zone. Where a daylight-saving change makes a wall
time ambiguous or impossible, a slot still fires exactly once:

- a wall time the clocks skip (02:30 on a spring-forward night in Europe/Berlin) fires at the
  first instant after the gap (03:00 local); slots skipped together fire once;
- a wall time the clocks pass twice (02:30 on a fall-back night) fires at its first occurrence
  only.

Every function here is pure: times come in as arguments, never from the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from audiobatch.errors import ScheduleError
from audiobatch.suggestions import did_you_mean

MACROS: Mapping[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FORMAT_HINT = "expected five fields, minute hour day-of-month month day-of-week, e.g. '30 2 * * *'"

MAX_DST_SHIFT = timedelta(hours=3)  # more than any zone's daylight-saving change
HORIZON = timedelta(days=8 * 366)  # two leap-year cycles: any satisfiable expression has a slot


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0  # the value of names[0]


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day of week", 0, 7, WEEKDAYS, 0),
)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the values each field allows."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    either_day: bool  # both day fields restricted: a day matching either one matches

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        return (by_date or by_weekday) if self.either_day else (by_date and by_weekday)


def parse_cron(text: str) -> Cron:
    """Parse a cron expression; :class:`ScheduleError` saying which field is wrong and why."""
    expression = MACROS.get(text.strip().lower(), text)
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleError(f"cron expression {text!r} has {len(parts)} fields: {FORMAT_HINT}")
    minutes, hours, days, months, weekdays = (
        _parse_field(text, part, field) for part, field in zip(parts, _FIELDS, strict=True)
    )
    return Cron(
        text=text.strip(),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        either_day=not parts[2].startswith("*") and not parts[4].startswith("*"),
    )


def _parse_field(text: str, part: str, field: _Field) -> frozenset[int]:
    def refuse(why: str) -> ScheduleError:
        return ScheduleError(f"cron expression {text!r}: {field.name} {part!r}: {why}")

    def value(token: str) -> int:
        if token.lower() in field.names:
            return field.names.index(token.lower()) + field.first_name
        if not token.isdigit():
            raise refuse(f"{token!r} is not a number" + (" or a name" if field.names else ""))
        number = int(token)
        if not field.low <= number <= field.high:
            raise refuse(f"{number} is outside {field.low}-{field.high}")
        return number

    values: set[int] = set()
    for item in part.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise refuse(f"step {step_text!r} must be a positive number")
            step = int(step_text)
        if body == "*":
            low, high = field.low, field.high
        elif "-" in body:
            start, _, end = body.partition("-")
            low, high = value(start), value(end)
            if low > high:
                raise refuse(f"range {body!r} runs backwards")
        else:
            low = value(body)
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    return frozenset(values)


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; :class:`ScheduleError` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            f"unknown time zone {name!r}{did_you_mean(name, available_timezones())}: use an "
            "IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from exc


@dataclass(frozen=True)
class Slots:
    """The slots of a cron expression in a time zone (see the module note for DST)."""

    cron: Cron
    zone: ZoneInfo

    def next_after(self, instant: datetime) -> datetime:
        """The first slot strictly after ``instant`` (UTC)."""
        start = _local_minute(instant, self.zone) - MAX_DST_SHIFT
        for wall in _walls_forward(self.cron, start, start + HORIZON):
            slot = wall_instant(wall, self.zone)
            if slot > instant:
                return slot
        raise ScheduleError(
            f"cron expression {self.cron.text!r} names no time in the next eight years "
            "(a date that never comes, such as 30 February?)"
        )

    def latest_at_or_before(self, instant: datetime) -> datetime | None:
        """The last slot at or before ``instant`` (UTC), None when none came in eight years."""
        start = _local_minute(instant, self.zone) + MAX_DST_SHIFT
        for wall in _walls_backward(self.cron, start, start - HORIZON):
            slot = wall_instant(wall, self.zone)
            if slot <= instant:
                return slot
        return None


def slots_of(cron: str, timezone: str) -> Slots:
    """Parse both parts of a schedule; :class:`ScheduleError` for either one, and for an
    expression that never names a time."""
    slots = Slots(parse_cron(cron), parse_zone(timezone))
    slots.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuses "0 0 30 2 *" and its kin
    return slots


def wall_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a naive wall time of ``zone`` fires at: its first occurrence, or for a
    time the clocks skip, the end of the gap."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jumped over ``wall``, a time in a spring-forward gap."""
    # In a gap, fold=0 reads the wall time with the offset before the change (an instant after
    # it) and fold=1 with the offset after (an instant before it): the change lies between.
    after = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    before = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    offset = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:  # zone changes fall on whole seconds
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _local_minute(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)


def _walls_forward(cron: Cron, start: datetime, end: datetime) -> Iterator[datetime]:
    """The wall times ``cron`` matches from ``start`` to ``end``, in order."""
    wall = start
    while wall <= end:
        if not cron.matches_day(wall.date()):
            wall = datetime.combine(wall.date() + timedelta(days=1), time())
        elif wall.hour not in cron.hours:
            wall = wall.replace(minute=0) + timedelta(hours=1)
        elif wall.minute not in cron.minutes:
            wall += timedelta(minutes=1)
        else:
            yield wall
            wall += timedelta(minutes=1)


def _walls_backward(cron: Cron, start: datetime, end: datetime) -> Iterator[datetime]:
    """The wall times ``cron`` matches from ``start`` back to ``end``, latest first."""
    wall = start
    while wall >= end:
        if not cron.matches_day(wall.date()):
            wall = datetime.combine(wall.date(), time()) - timedelta(minutes=1)
        elif wall.hour not in cron.hours:
            wall = wall.replace(minute=0) - timedelta(minutes=1)
        elif wall.minute not in cron.minutes:
            wall -= timedelta(minutes=1)
        else:
            yield wall
            wall -= timedelta(minutes=1)
