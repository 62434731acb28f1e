"""The database server's clock: the one every process reads the times that other hosts compare
(a lease's end, a heartbeat, a wake-up's age, a retry's hour).

A host's clock may be minutes off (no time sync, a virtual machine resumed, a container host
set by hand). Were leases written by one host's clock and judged lost by another's, a skew
longer than a lease would hand every job a worker renders to a second worker, and the API would
be paid twice; a dashboard ahead of the workers would call every one of them gone. So each
process measures how far its clock is from the database server's (one ``SELECT
clock_timestamp()``, taken as read halfway through the round trip) and adds that offset to its
own readings; it measures again every :data:`MEASURE_EVERY_S`. Between measures a reading costs
no round trip. SQLite lives on the host that opens it: its clock is this host's.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from audiobatch.db.models import utcnow
from audiobatch.db.session import get_engine

log = logging.getLogger(__name__)

MEASURE_EVERY_S = 60.0
"""How often the offset is measured again: clocks drift by far less than a second in that time."""
REMEASURE_AFTER_FAILURE_S = 5.0
"""How long after a failed measure (the database out of reach) the next one is tried."""


class DatabaseClock:
    """Readings of ``local`` (this host's clock) moved by their last measured offset from the
    clock of ``engine``'s database server."""

    def __init__(
        self,
        engine: Engine,
        local: Callable[[], datetime] = utcnow,
        measure_every_s: float = MEASURE_EVERY_S,
    ) -> None:
        self._engine = engine
        self._local = local
        self._measure_every_s = measure_every_s
        self._server = engine.dialect.name == "postgresql"
        self._offset = timedelta(0)
        self._measured_at = -math.inf
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        if self._server:
            with self._lock:
                if time.monotonic() - self._measured_at >= self._measure_every_s:
                    self._measure()
        return self._local() + self._offset

    @property
    def offset(self) -> timedelta:
        """How far the server's clock is ahead of this host's, as last measured."""
        return self._offset

    def _measure(self) -> None:
        try:
            with self._engine.connect() as connection:
                sent = self._local()
                server = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
                received = self._local()
        except SQLAlchemyError as exc:  # the work that follows meets the same outage and says
            # so; readings meanwhile keep the last offset and do not each wait for a connection
            log.warning("database clock not read (offset kept at %s): %s", self._offset, exc)
            self._measured_at = time.monotonic() - self._measure_every_s + REMEASURE_AFTER_FAILURE_S
            return
        self._offset = server - (sent + (received - sent) / 2)
        self._measured_at = time.monotonic()
        if abs(self._offset) >= timedelta(seconds=1):
            log.info(
                "this host's clock is %.1f s %s the database's: times are read from the latter",
                abs(self._offset.total_seconds()),
                "behind" if self._offset > timedelta(0) else "ahead of",
            )


_clocks: weakref.WeakKeyDictionary[Engine, DatabaseClock] = weakref.WeakKeyDictionary()
_clocks_lock = threading.Lock()


def database_clock(database_url: str) -> DatabaseClock:
    """This process's clock of the database at ``database_url`` (see the module's docstring)."""
    return _clock_of(get_engine(database_url))


def database_now(session: Session) -> datetime:
    """The time now by the clock of ``session``'s database (read as :func:`database_clock`)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # sessions here are bound to an engine, never a connection
    return _clock_of(engine)()


def _clock_of(engine: Engine) -> DatabaseClock:
    with _clocks_lock:
        clock = _clocks.get(engine)
        if clock is None:
            clock = _clocks[engine] = DatabaseClock(engine)
        return clock
