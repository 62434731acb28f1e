"""The chart of throughput and failures over time, as the geometry of an inline SVG (no script,
no outside library): per bucket a bar of jobs that succeeded, stacked with those that failed, and
a dot for the attempts that failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audiobatch.db.activity import Bucket

WIDTH, HEIGHT = 720, 160
TOP = 12  # room above the tallest bar for its dot


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
class Chart:
    bars: list[Bar]
    width: int
    height: int
    peak: int  # the value at the top of the chart
    first: str  # times at the left and right ends
    last: str
    succeeded: int
    failed: int
    failed_attempts: int


def chart(buckets: Sequence[Bucket]) -> Chart:
    peak = max(
        [1, *(b.succeeded + b.failed for b in buckets), *(b.failed_attempts for b in buckets)]
    )
    step = WIDTH / max(1, len(buckets))
    scale = (HEIGHT - TOP) / peak
    bars = []
    for n, b in enumerate(buckets):
        ok_h, failed_h = b.succeeded * scale, b.failed * scale
        label = (
            f"{b.start:%Y-%m-%d %H:%M:%S} UTC: {b.succeeded} succeeded, {b.failed} failed, "
            f"{b.failed_attempts} failed attempts"
        )
        bars.append(
            Bar(
                x=n * step + 1,
                width=max(1.0, step - 2),
                ok_y=HEIGHT - ok_h,
                ok_height=ok_h,
                failed_y=HEIGHT - ok_h - failed_h,
                failed_height=failed_h,
                dot_y=HEIGHT - b.failed_attempts * scale if b.failed_attempts else None,
                label=label,
            )
        )
    return Chart(
        bars=bars,
        width=WIDTH,
        height=HEIGHT,
        peak=peak,
        first=f"{buckets[0].start:%Y-%m-%d %H:%M} UTC" if buckets else "",
        last=f"{buckets[-1].end:%Y-%m-%d %H:%M} UTC" if buckets else "",
        succeeded=sum(b.succeeded for b in buckets),
        failed=sum(b.failed for b in buckets),
        failed_attempts=sum(b.failed_attempts for b in buckets),
    )
