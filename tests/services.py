"""Real PostgreSQL and Redis for the tests: the machine's own when they answer, else private ones.

A missing server is started (never skipped); a missing binary fails with the command to fix it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import redis

MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379"
FIX = "run `bash scripts/ensure-services` (installs PostgreSQL and Redis from Debian's packages)"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def postgres_server() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server's maintenance database."""
    url = os.environ.get("AUDIOBATCH_TEST_POSTGRES_URL", MACHINE_POSTGRES)
    if _postgres_answers(url):
        yield url
        return
    yield from _private_postgres()


def _private_postgres() -> Iterator[str]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise RuntimeError(f"PostgreSQL is neither running nor installed: {FIX}")
    bindir = bins[-1].parent
    data = Path(tempfile.mkdtemp(prefix="audiobatch-pg-"))
    port = free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(data, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on ``server_url``, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"ab_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        from audiobatch.db.session import dispose_engines

        dispose_engines()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_server() -> Iterator[str]:
    """A Redis server URL (no database number)."""
    url = os.environ.get("AUDIOBATCH_TEST_REDIS_URL", MACHINE_REDIS)
    if _redis_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(f"Redis is neither running nor installed: {FIX}")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not _redis_answers(url):
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("a private redis-server did not start within 10 s")
        time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait()
