"""Read by the Python of a cluster host whose clock is off (this folder first on its
``PYTHONPATH``): the wall clock (``datetime.now``, ``time.time``) reads ``CLOCK_OFF_S`` seconds
ahead, or behind when negative, as on a host that keeps no time sync; the monotonic clock, which
times waits and sleeps, is left alone, as on such a host. (libfaketime moves the wall clock too,
but breaks Python's timed waits on threads.)"""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

_OFF = datetime.timedelta(seconds=float(os.environ.get("CLOCK_OFF_S", "0")))
_OFF_NS = round(_OFF.total_seconds() * 1e9)
_time, _time_ns = time.time, time.time_ns


class _OffDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return super().now(tz) + _OFF

    @classmethod
    def utcnow(cls) -> Any:
        return super().utcnow() + _OFF


datetime.datetime = _OffDatetime  # type: ignore[misc]
time.time = lambda: _time() + _OFF.total_seconds()
time.time_ns = lambda: _time_ns() + _OFF_NS
