"""Real PostgreSQL and Redis for the tests: the machine's own when they answer, else private ones.

A missing server is started (never skipped); a missing binary fails with the command to fix it.
"""

from __future__ import annotations

import os
import shutil
import signal
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
    with PrivatePostgres() as server:
        yield server.url


class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary folder, which a test may stop and restart."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise RuntimeError(f"PostgreSQL is neither running nor installed: {FIX}")
        self._bindir = bins[-1].parent
        self._data = Path(tempfile.mkdtemp(prefix="audiobatch-pg-"))
        self._port = free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self._data, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self._port}/postgres"

    def __enter__(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        shutil.rmtree(self._data, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self._port} -k {self._data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self._data / "server.log")  # else the server holds our output pipes open
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Stop as a crash would: every connection dropped, nothing flushed."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "stop", check=False)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._as_postgres, str(self._bindir / program), *args]
        subprocess.run(command, check=check, capture_output=True)


def fresh_postgres_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on ``server_url``, empty or a copy of database ``template``, dropped
    afterwards; yields its SQLAlchemy URL."""
    name = f"ab_test_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
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
    with PrivateRedis() as server:
        yield server.url


class PrivateRedis:
    """A redis-server of our own that keeps nothing on disk: a restart comes back empty."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"Redis is neither running nor installed: {FIX}")
        self._binary = binary
        self._port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self._port}"

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self._port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers(self.url):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("a private redis-server did not start within 10 s")
            time.sleep(0.05)

    def freeze(self) -> None:
        """Stop the server answering (SIGSTOP): connections stay open and time out, as across a
        network cut."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server: every connection dropped, every key gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
