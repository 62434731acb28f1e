"""A database that goes away: its errors say so, and work that must not be lost waits it out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from audiobatch.db.session import patiently, session_scope
from audiobatch.errors import DatabaseRejectedError, DatabaseUnavailableError
from tests import services


@pytest.fixture
def restartable_postgres() -> Iterator[tuple[services.PrivatePostgres, str]]:
    """A private PostgreSQL server a test may stop, and a database of its own on it."""
    with (
        services.PrivatePostgres() as server,
        contextmanager(services.fresh_postgres_database)(server.url) as database,
    ):
        yield server, database


def test_an_unreachable_database_is_reported_as_unavailable(
    restartable_postgres: tuple[services.PrivatePostgres, str],
) -> None:
    server, database = restartable_postgres
    with session_scope(database) as session:
        session.execute(text("SELECT 1"))  # a pooled connection, which the stop will break
    server.stop()
    with (
        pytest.raises(DatabaseUnavailableError, match="did not answer"),
        session_scope(database) as session,
    ):
        session.execute(text("SELECT 1"))
    server.start()


def test_work_waits_for_the_database_to_come_back(
    restartable_postgres: tuple[services.PrivatePostgres, str],
) -> None:
    server, database = restartable_postgres
    with session_scope(database) as session:
        session.execute(text("CREATE TABLE outcomes (job int)"))
    server.stop()
    threading.Timer(1.5, server.start).start()

    def record(session: Session) -> int:
        session.execute(text("INSERT INTO outcomes VALUES (7)"))
        return int(session.execute(text("SELECT count(*) FROM outcomes")).scalar_one())

    assert patiently(database, record, patience_s=30) == 1


def test_waiting_has_an_end(restartable_postgres: tuple[services.PrivatePostgres, str]) -> None:
    server, database = restartable_postgres
    server.stop()
    with pytest.raises(DatabaseUnavailableError):
        patiently(database, lambda session: session.execute(text("SELECT 1")), patience_s=0.5)
    server.start()


def test_a_wrong_statement_is_not_taken_for_an_outage(sqlite_url: str) -> None:
    with pytest.raises(DatabaseRejectedError, match="no such table"):
        patiently(sqlite_url, lambda session: session.execute(text("SELECT * FROM missing_table")))
