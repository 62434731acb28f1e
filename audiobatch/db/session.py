"""Engines and sessions: one engine per process and URL, made lazily, never at import time."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import Session, sessionmaker

from audiobatch.errors import DatabaseRejectedError, DatabaseUnavailableError

T = TypeVar("T")
log = logging.getLogger(__name__)

PATIENCE_S = 300.0  # how long a worker waits out an unreachable database before giving up
RETRY_CAP_S = 2.0

# A server that stops answering (a partition, a frozen host) is noticed within seconds instead of
# when the kernel gives up on the connection, which takes minutes: libpq's connect timeout, TCP
# keep-alives, and a limit on data left unacknowledged.
SERVER_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}

_engines: dict[tuple[int, str], Engine] = {}
_sessionmakers: dict[Engine, sessionmaker[Session]] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read while workers write; busy_timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Take SQLite's write lock at BEGIN: a transaction that read first and wrote later would
    # otherwise fail with SQLITE_BUSY when another process committed in between.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(url: str) -> Engine:
    """The engine for ``url`` in this process (a forked child gets its own, never its parent's)."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = _create_engine(url)
        _engines[key] = engine
    return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    # Room for every thread of a worker: a connection opened beyond the pool is closed after use,
    # and opening one costs a PostgreSQL backend fork.
    return create_engine(
        url, pool_pre_ping=True, pool_size=20, max_overflow=20, connect_args=SERVER_CONNECT_ARGS
    )


def dispose_engines() -> None:
    """Forget every engine (after a fork, or at the end of a test)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _sessionmakers.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error.

    Raises DatabaseUnavailableError when the database cannot be reached, went away during the
    transaction, or stayed locked: the transaction did not happen (or, if the connection broke
    during COMMIT, cannot be known to have happened) and may be tried again. Raises
    DatabaseRejectedError when it refused a statement (a value that does not fit its column, a
    broken constraint, a table the schema lacks): that fails again however often it is sent.
    """
    engine = get_engine(url)
    factory = _sessionmakers.get(engine)
    if factory is None:  # making one per session would cost more than most transactions
        factory = _sessionmakers[engine] = sessionmaker(engine, expire_on_commit=False)
    try:
        with factory() as session, session.begin():
            yield session
    except DBAPIError as exc:
        if not _transient(exc):
            raise DatabaseRejectedError(
                f"the database refused {_refusal(exc)}: {exc.orig}"
            ) from exc
        raise DatabaseUnavailableError(
            f"the database at {engine.url.render_as_string()} did not answer: {exc.orig}"
        ) from exc


def patiently(url: str, work: Callable[[Session], T], patience_s: float = PATIENCE_S) -> T:
    """``work(session)`` in a transaction of its own, run again while the database is
    unreachable, for up to ``patience_s``: what a worker holding a paid answer must not lose to a
    database restart. ``work`` must be safe to run again (it is, when it only reads and writes
    through ``session``)."""
    deadline = time.monotonic() + patience_s
    delay_s = 0.1
    while True:
        try:
            with session_scope(url) as session:
                return work(session)
        except DatabaseUnavailableError as exc:
            if time.monotonic() + delay_s > deadline:
                raise
            log.warning("%s; trying again in %.1f s", exc, delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, RETRY_CAP_S)


def _transient(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database is away or busy, not that the statement is wrong."""
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.Error):  # SQLite's OperationalError also means bad SQL
        return "locked" in str(exc.orig) or "busy" in str(exc.orig)
    return isinstance(exc, OperationalError | InterfaceError)


def _refusal(exc: DBAPIError) -> str:
    """What the database refused, in words that point at the fix."""
    if isinstance(exc, DataError):
        return "a value that does not fit its column (out of range, or too long)"
    if isinstance(exc, IntegrityError):
        return "a change that breaks a constraint (a duplicate, or a row that does not exist)"
    if isinstance(exc, ProgrammingError):
        return "a statement its schema cannot run (if it is out of date: `audiobatch db upgrade`)"
    return "the statement"


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed: how a conditional update tells who won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def lock_key(name: str) -> int:
    """A name as a key of :func:`hold_locks` (60 bits of its sha256: it fits a bigint)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)


def hold_locks(session: Session, keys: Iterable[int]) -> None:
    """Hold locks on ``keys`` until the transaction ends: PostgreSQL's advisory locks, taken in
    ascending order so that two transactions holding several cannot deadlock. SQLite's BEGIN
    IMMEDIATE serialises writing transactions already: there, nothing to take."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        session.execute(select(func.pg_advisory_xact_lock(key)))
