"""Times, sizes and durations as people read them, for the CLI and the dashboard alike.

Pure functions. Instants are UTC-aware datetimes; they are shown as the wall time of the zone
``AUDIOBATCH_TIME_ZONE`` names, with that zone's abbreviation, and relative to now.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from audiobatch.suggestions import did_you_mean

SIZE_UNITS = ("kB", "MB", "GB", "TB")
MINUTE_S, HOUR_S, DAY_S = 60, 3600, 86400


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; :class:`ValueError` saying what to use instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Europe" is a folder
        raise ValueError(
            f"unknown time zone {name!r}{did_you_mean(name, available_timezones())}: use an "
            "IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from exc


def local_time(instant: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """The wall time of ``zone`` with its abbreviation: ``2026-03-29 03:00 CEST``."""
    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return instant.astimezone(zone).strftime(shape)


def relative_time(instant: datetime, now: datetime) -> str:
    """How long ago or from now: ``just now``, ``40 s ago``, ``3 min ago``, ``in 2 h``."""
    delta_s = (instant - now).total_seconds()
    if abs(delta_s) < 1:
        return "just now"
    span = _span(abs(delta_s))
    return f"in {span}" if delta_s > 0 else f"{span} ago"


def _span(seconds: float) -> str:
    for unit_s, unit in ((DAY_S, "d"), (HOUR_S, "h"), (MINUTE_S, "min")):
        if seconds >= unit_s:
            return f"{int(seconds // unit_s)} {unit}"
    return f"{int(seconds)} s"


def count_text(count: int) -> str:
    """A count with its thousands apart: ``950``, ``1,205``, ``768,000``."""
    return f"{count:,}"


def size_text(size_bytes: int) -> str:
    """Bytes in decimal units: ``512 B``, ``1.2 kB``, ``36.5 MB``."""
    if size_bytes < 1000:
        return f"{size_bytes} B"
    value = size_bytes / 1000
    for unit in SIZE_UNITS[:-1]:
        if float(_three_figures(value)) < 1000:  # as it rounds: 999,950 B is 1.0 MB
            return f"{_three_figures(value)} {unit}"
        value /= 1000
    return f"{_three_figures(value)} {SIZE_UNITS[-1]}"


def _three_figures(value: float) -> str:
    return f"{value:.1f}" if value < 99.95 else f"{value:.0f}"


def clock_duration(seconds: float) -> str:
    """An audio length as a clock: ``0:07``, ``4:05``, ``1:02:09``."""
    whole = round(seconds)
    hours, rest = divmod(whole, HOUR_S)
    minutes, secs = divmod(rest, MINUTE_S)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed_text(seconds: float) -> str:
    """A render time: ``0.8 s``, ``12 s``, ``1.6 min``, ``2.5 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < MINUTE_S:
        return f"{seconds:.0f} s"
    if seconds < HOUR_S:
        return f"{seconds / MINUTE_S:.1f} min"
    return f"{seconds / HOUR_S:.1f} h"
