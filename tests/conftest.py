"""Shared fixtures: real PostgreSQL, Redis and an S3 server; a fresh database, bucket, Redis db per test."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once, for tests to copy."""
    folder = tmp_path_factory.mktemp("migrated")
    upgrade(f"sqlite:///{folder / 'migrating.db'}")
    dispose_engines()
    # one file to copy: what the migration left in its write-ahead log is in it
    with (
        closing(sqlite3.connect(folder / "migrating.db")) as source,
        closing(sqlite3.connect(folder / "state.db")) as copy,
    ):
        source.backup(copy)
    return folder / "state.db"


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: str) -> Iterator[str]:
    """The name of a PostgreSQL database migrated once, for tests to copy (nothing stays
    connected to it: a database being copied must have no other session)."""
    for url in services.fresh_postgres_database(postgres_server):
        upgrade(url)
        dispose_engines()
        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(postgres_server, autocommit=True) as conn:  # the pool's leftovers
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        yield name


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> Iterator[str]:
    """A migrated, empty SQLite database (a copy of one migrated once: migrating takes longer
    than most tests)."""
    path = tmp_path / "state.db"
    shutil.copyfile(migrated_sqlite, path)
    yield f"sqlite:///{path}"
    dispose_engines()


@pytest.fixture
def migrated_postgres_url(postgres_server: str, migrated_postgres: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL database (a copy of one migrated once)."""
    yield from services.fresh_postgres_database(postgres_server, migrated_postgres)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: the test runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed Redis database for this test: number 9, or ``AUDIOBATCH_TEST_REDIS_DB``, plus
    the number of the pytest-xdist process running it.

    Two test runs on one machine need numbers far enough apart: each flushes its own.
    """
    process = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    number = int(os.environ.get("AUDIOBATCH_TEST_REDIS_DB", "9")) + process
    url = f"{redis_server}/{number % 16}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on loopback; its endpoint URL. Dummy credentials for boto3."""
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket for this test."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


# Test files that take minutes, longest first (`make test` prints the slowest tests). Run first,
# they overlap the many short files; collected in their place, the last of them ran alone at the
# end while the other processes had nothing left to do.
LONGEST_FIRST = (
    "tests/cluster/test_cluster.py",
    "tests/acceptance/test_readme.py",
    "tests/acceptance/test_late_writer.py",
    "tests/acceptance/test_waiting_ends.py",
    "tests/acceptance/test_account_limits.py",
    "tests/acceptance/test_workers.py",
    "tests/acceptance/test_chaos.py",
    "tests/acceptance/test_image.py",
    "tests/acceptance/test_container_restart.py",
    "tests/acceptance/test_nightly_schedule.py",
    "tests/acceptance/test_embedded_run.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the longest test files first, in LONGEST_FIRST's order; the rest keep theirs."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)
