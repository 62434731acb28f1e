"""How the pages show times, sizes and durations (Jinja filters over :mod:`audiobatch.readable`).

A time reads as the wall time of ``AUDIOBATCH_TIME_ZONE`` with the zone's abbreviation and how
long ago it was, in a ``<time>`` element whose ``datetime`` (and tooltip) is the exact instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from audiobatch.dashboard.downloads import output_format_of
from audiobatch.elevenlabs.formats import bitrate_duration_s, is_raw, raw_duration_s
from audiobatch.readable import (
    clock_duration,
    count_text,
    elapsed_text,
    local_time,
    relative_time,
    size_text,
)

UNKNOWN = "\N{EN DASH}"  # what a time not yet known shows, as the templates do


@pass_context
def when(context: Context, iso: str | None) -> Markup:
    """A ``<time>`` element for an ISO instant (a dash for none), in the page's zone and
    relative to the page's ``now``; a narrow column wraps it between the two, not inside."""
    if not iso:
        return Markup(UNKNOWN)
    instant = datetime.fromisoformat(iso)
    zone, now = context["zone"], context["now"]
    exact = instant.astimezone(zone).isoformat()
    return Markup('<time datetime="{}" title="{}"><span>{}</span> <span>({})</span></time>').format(
        exact, exact, local_time(instant, zone), relative_time(instant, now)
    )


def audio_length(output: dict[str, Any], kind: str, request: dict[str, Any]) -> str:
    """How long an output's audio lasts: exact for raw PCM and G.711, about (``≈``) from the
    bitrate for MP3 and Opus; empty for other files and formats without a bitrate."""
    if not output["content_type"].startswith("audio/"):
        return ""
    output_format = output_format_of(kind, request)
    exact_s = raw_duration_s(output_format, output["bytes"])
    if exact_s is not None:
        return clock_duration(exact_s)
    about_s = bitrate_duration_s(output_format, output["bytes"])
    return "" if about_s is None else f"≈ {clock_duration(about_s)}"


def play_url(output: dict[str, Any], kind: str, request: dict[str, Any]) -> str:
    """Where a page's ``<audio>`` plays an output from: raw PCM and G.711 as WAV."""
    playable = is_raw(output_format_of(kind, request))
    return f"{output['url']}?as=wav" if playable else str(output["url"])


def took(started_iso: str | None, finished_iso: str | None) -> str:
    """How long from one ISO instant to another, in s or min (a dash until both are known)."""
    if not started_iso or not finished_iso:
        return UNKNOWN
    span = datetime.fromisoformat(finished_iso) - datetime.fromisoformat(started_iso)
    return elapsed_text(span.total_seconds())


def millis(value_ms: float) -> str:
    """A render time given in milliseconds, in s or min."""
    return elapsed_text(value_ms / 1000)


FILTERS = {
    "when": when,
    "size": size_text,
    "count": count_text,
    "audio_length": audio_length,
    "render_time": millis,
    "duration": elapsed_text,
    "play_url": play_url,
    "took": took,
}
