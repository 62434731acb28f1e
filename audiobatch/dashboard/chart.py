"""The chart of throughput and failures over time, as the geometry of an inline SVG (no script,
no outside library): per bucket a bar of jobs that succeeded, stacked with those that failed, and
a dot for the attempts that failed; a y axis of jobs a bucket with round ticks, an x axis of
wall times in the dashboard's zone, and a legend with the totals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from audiobatch.db.activity import Bucket
from audiobatch.readable import elapsed_text, local_time

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 34, 40  # room for the y labels, the legend, the x labels
PLOT_WIDTH, PLOT_BOTTOM = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM
MAX_Y_TICKS, MAX_X_TICKS = 5, 6
DAY_S = 86400


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float
    dot_y: float | None  # failed attempts, None when there were none
    label: str  # the bar's tooltip


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    left: int  # the plot's edges
    right: int
    top: int
    bottom: int
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    y_title: str  # the unit of each axis
    x_title: str
    succeeded: int
    failed: int
    failed_attempts: int


def round_step(peak: int, most: int = MAX_Y_TICKS) -> int:
    """The smallest step of 1, 2 or 5 times a power of ten that reaches ``peak`` in at most
    ``most`` ticks above zero."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if factor * power * most >= peak:
                return factor * power
        power *= 10


def chart(buckets: Sequence[Bucket], zone: tzinfo) -> Chart:
    peak = max(
        [1, *(b.succeeded + b.failed for b in buckets), *(b.failed_attempts for b in buckets)]
    )
    step = round_step(peak)
    top_value = math.ceil(peak / step) * step
    scale = (PLOT_BOTTOM - TOP) / top_value
    slot = PLOT_WIDTH / max(1, len(buckets))
    bars = []
    for n, b in enumerate(buckets):
        ok_h, failed_h = b.succeeded * scale, b.failed * scale
        label = (
            f"{local_time(b.start, zone, seconds=True)}: {b.succeeded} succeeded, "
            f"{b.failed} failed, {b.failed_attempts} failed attempts"
        )
        bars.append(
            Bar(
                x=LEFT + n * slot + 1,
                width=max(1.0, slot - 2),
                ok_y=PLOT_BOTTOM - ok_h,
                ok_height=ok_h,
                failed_y=PLOT_BOTTOM - ok_h - failed_h,
                failed_height=failed_h,
                dot_y=PLOT_BOTTOM - b.failed_attempts * scale if b.failed_attempts else None,
                label=label,
            )
        )
    y_ticks = [
        Tick(PLOT_BOTTOM - value * scale, str(value)) for value in range(0, top_value + 1, step)
    ]
    return Chart(
        bars=bars,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=PLOT_BOTTOM,
        y_ticks=y_ticks,
        x_ticks=_time_ticks(buckets, zone, slot),
        y_title=f"jobs / {_bucket_span(buckets)}",
        x_title=f"time ({buckets[-1].end.astimezone(zone):%Z})" if buckets else "time",
        succeeded=sum(b.succeeded for b in buckets),
        failed=sum(b.failed for b in buckets),
        failed_attempts=sum(b.failed_attempts for b in buckets),
    )


def _bucket_span(buckets: Sequence[Bucket]) -> str:
    if not buckets:
        return "bucket"
    return elapsed_text((buckets[0].end - buckets[0].start).total_seconds())


def _time_ticks(buckets: Sequence[Bucket], zone: tzinfo, slot: float) -> list[Tick]:
    """Wall times at evenly spaced bucket edges, the first and the last edge included."""
    if not buckets:
        return []
    edges = [b.start for b in buckets] + [buckets[-1].end]
    every = max(1, math.ceil((len(edges) - 1) / (MAX_X_TICKS - 1)))
    span_s = (edges[-1] - edges[0]).total_seconds()
    shape = "%H:%M" if span_s <= DAY_S else "%m-%d %H:%M"
    if span_s < 600:
        shape += ":%S"
    picked = list(range(0, len(edges), every))
    if picked[-1] != len(edges) - 1:
        picked[-1] = len(edges) - 1  # the right end, in place of a tick too close to it
    return [Tick(LEFT + n * slot, edges[n].astimezone(zone).strftime(shape)) for n in picked]
