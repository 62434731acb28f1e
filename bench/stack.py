"""What the fleet benchmarks share: the emulator's setting, the manifest, services, a fleet run.

The emulator takes 8 concurrent requests per key and answers each after 100 ms, so no client can
do better than 80 jobs/s: the ideal the fleet benchmarks measure against. The embedded comparison
uses an account of 6 concurrent requests answered after 150 ms (ideal 40 jobs/s).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from tests import services
from tests.acceptance.cli import audiobatch, clean_environment, running_emulator, start, stop


@dataclass(frozen=True)
class Account:
    """What the emulator allows: concurrent requests per key, and how long each one takes."""

    concurrency: int
    latency_ms: int

    @property
    def ideal_jobs_per_s(self) -> float:
        return self.concurrency / (self.latency_ms / 1000)

    def describe(self) -> str:
        return (
            f"emulator concurrency {self.concurrency}, latency {self.latency_ms} ms "
            f"(ideal {self.ideal_jobs_per_s:.0f} jobs/s)"
        )


FLEET = Account(concurrency=8, latency_ms=100)
EMBEDDED = Account(concurrency=6, latency_ms=150)
CONCURRENCY = FLEET.concurrency  # threads of each fleet worker
WORKERS = 2  # worker processes, each with CONCURRENCY threads
CONNECT_S = 3.0  # what workers are given to connect to the broker before the clock starts
API_KEY = "bench-key"
HOST = "JBFqnCBsd6RMkjVDRZzb"


def write_manifest(path: Path, jobs: int) -> Path:
    """A JSONL manifest of ``jobs`` one-line dialogue jobs in raw 16 kHz PCM."""
    with open(path, "w") as out:
        for n in range(jobs):
            line = {"id": f"j{n}", "kind": "dialogue", "output_format": "pcm_16000",
                    "inputs": [{"voice": HOST, "text": f"Line number {n}."}]}  # fmt: skip
            out.write(json.dumps(line) + "\n")
    return path


@contextmanager
def emulator(folder: Path, *extra: str, account: Account = FLEET) -> Iterator[str]:
    """A fresh emulator with ``account``'s concurrency and latency (and ``extra`` options, such
    as faults); its URL."""
    args = (
        "--concurrency", str(account.concurrency), "--latency-ms", str(account.latency_ms), *extra
    )  # fmt: skip
    with running_emulator(*args, cwd=folder) as url:
        yield url


@dataclass(frozen=True)
class Measurement:
    """One contender's run: its wall time and what the emulator counted meanwhile."""

    account: Account
    jobs: int
    seconds: float  # end to end: from the command's start (cold) to its exit
    stats: dict[str, Any]  # GET /_emulator/stats
    rendering_s: float  # from the first generation's start to the last one's end (the ledger)

    @classmethod
    def read(
        cls, jobs: int, seconds: float, emulator_url: str, account: Account = FLEET
    ) -> Measurement:
        stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
        served = sorted(
            entry["at"] for entry in httpx.get(f"{emulator_url}/_emulator/ledger").json()
        )
        rendering_s = served[-1] - served[0] + account.latency_ms / 1000
        return cls(account, jobs, seconds, stats, rendering_s)

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds

    @property
    def of_ideal(self) -> float:
        return self.jobs_per_s / self.account.ideal_jobs_per_s

    @property
    def rendering_of_ideal(self) -> float:
        """Throughput while rendering, start-up and the final report left out."""
        return self.jobs / self.rendering_s / self.account.ideal_jobs_per_s

    @property
    def refused(self) -> int:
        """429s: requests over the concurrency limit."""
        return int(self.stats["too_many_concurrent"])

    @property
    def share_429(self) -> float:
        return self.refused / sum(int(n) for n in self.stats["requests_by_status"].values())


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """A PostgreSQL server's maintenance URL and a Redis server URL (no database number)."""
    with (
        contextmanager(services.postgres_server)() as postgres,
        contextmanager(services.redis_server)() as redis_url,
    ):
        yield postgres, redis_url


@contextmanager
def fresh_database(postgres_server: str) -> Iterator[str]:
    """A new PostgreSQL database's SQLAlchemy URL, dropped afterwards."""
    with contextmanager(services.fresh_postgres_database)(postgres_server) as url:
        yield url


def flushed(redis_url: str) -> str:
    """``redis_url`` (with a database number) after emptying that database."""
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        stop(process)


@contextmanager
def fleet(
    folder: Path,
    emulator_url: str,
    database: str,
    broker: str,
    account: Account = FLEET,
    **settings: str,
) -> Iterator[dict[str, str]]:
    """WORKERS workers and a scheduler running against ``database`` and ``broker`` (with
    ``settings`` as environment variables), connected; the environment a command needs to use
    them. ``database`` must be empty and ``broker`` flushed; renders go to ``folder/renders``."""
    env = clean_environment(
        ELEVENLABS_API_KEY=API_KEY, AUDIOBATCH_API_URL=emulator_url, AUDIOBATCH_DATABASE_URL=database,
        AUDIOBATCH_BROKER_URL=broker, AUDIOBATCH_STORAGE_URL=f"file://{folder / 'renders'}",
        AUDIOBATCH_API_CONCURRENCY=str(account.concurrency), AUDIOBATCH_HOME=str(folder / "home"),
        **settings,
    )  # fmt: skip
    upgraded = audiobatch("db", "upgrade", cwd=folder, env=env)
    if upgraded.returncode != 0:
        raise SystemExit(f"db upgrade failed: {upgraded.stderr[-2000:]}")
    processes = [start("worker", "--concurrency", str(CONCURRENCY), "--loglevel", "WARNING",
                       cwd=folder, env=env, log=folder / f"worker{i}.log") for i in range(WORKERS)]  # fmt: skip
    processes.append(start("scheduler", "--loglevel", "WARNING", cwd=folder, env=env,
                           log=folder / "beat.log"))  # fmt: skip
    try:
        time.sleep(CONNECT_S)
        yield env
    finally:
        stop_all(processes)


def run_audiobatch(
    manifest: Path,
    folder: Path,
    emulator_url: str,
    database: str,
    broker: str,
    account: Account = FLEET,
    **settings: str,
) -> float:
    """Seconds ``audiobatch submit --wait`` takes with the :func:`fleet` running."""
    with fleet(folder, emulator_url, database, broker, account, **settings) as env:
        started = time.monotonic()
        result = audiobatch(
            "submit", str(manifest), "--wait", "--json", cwd=folder, env=env, timeout_s=1800
        )
        elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"submit failed: {result.stderr[-2000:]}")
    return elapsed
