"""Shared fixtures: real PostgreSQL, Redis and an S3 server; a fresh database, bucket, Redis db per test."""

from __future__ import annotations

import os
import uuid
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
