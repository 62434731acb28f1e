"""Engines and sessions: one engine per process and URL, made lazily, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

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
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)


def dispose_engines() -> None:
    """Forget every engine (after a fork, or at the end of a test)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _sessionmakers.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    engine = get_engine(url)
    factory = _sessionmakers.get(engine)
    if factory is None:  # making one per session would cost more than most transactions
        factory = _sessionmakers[engine] = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed: how a conditional update tells who won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
