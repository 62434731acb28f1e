"""Fixtures for integration tests: real PostgreSQL and Redis, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from audiobatch.db.migrate import upgrade
from audiobatch.db.session import dispose_engines
from tests import services


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    yield from services.postgres_server()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    yield from services.redis_server()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own (SQLAlchemy URL)."""
    yield from services.fresh_postgres_database(postgres_server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'state.db'}"
    dispose_engines()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: the test runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    return url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed Redis database for this test."""
    url = f"{redis_server}/9"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
