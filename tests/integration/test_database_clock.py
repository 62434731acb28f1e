"""Times that hosts compare come from the database server's clock: a host whose own clock is
minutes off still writes leases and heartbeats that every other host reads rightly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from audiobatch.db.clock import DatabaseClock, database_clock, database_now
from audiobatch.db.models import utcnow
from audiobatch.db.session import get_engine, session_scope

SKEW = timedelta(minutes=5)  # five leases of 60 s


def off_by(skew: timedelta) -> Callable[[], datetime]:
    """A host clock ``skew`` ahead of this one (behind, when negative)."""
    return lambda: utcnow() + skew


@pytest.mark.parametrize("skew", [SKEW, -SKEW])
def test_a_host_whose_clock_is_off_reads_the_servers_time(
    migrated_postgres_url: str, skew: timedelta
) -> None:
    clock = DatabaseClock(get_engine(migrated_postgres_url), local=off_by(skew))
    assert abs(clock() - utcnow()) < timedelta(seconds=1)
    assert abs(clock.offset + skew) < timedelta(seconds=1)


def test_sqlite_is_read_by_this_hosts_clock_without_a_round_trip(
    migrated_sqlite_url: str,
) -> None:
    clock = DatabaseClock(get_engine(migrated_sqlite_url), local=off_by(SKEW))
    assert clock() - utcnow() > SKEW - timedelta(seconds=1)
    assert clock.offset == timedelta(0)


def test_a_process_has_one_clock_per_database(migrated_postgres_url: str) -> None:
    assert database_clock(migrated_postgres_url) is database_clock(migrated_postgres_url)
    with session_scope(migrated_postgres_url) as session:
        assert abs(database_now(session) - utcnow()) < timedelta(seconds=1)


def test_a_database_out_of_reach_keeps_the_offset_and_is_not_asked_at_every_reading() -> None:
    engine = get_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing")  # refused at once
    attempts: list[object] = []
    event.listen(engine, "do_connect", lambda *args: attempts.append(args))
    clock = DatabaseClock(engine, local=off_by(SKEW))
    assert clock() - utcnow() > SKEW - timedelta(seconds=1)  # this host's clock, as it was
    clock()
    assert clock.offset == timedelta(0)
    assert len(attempts) == 1
