"""History: the reconciler's tick and the dashboard's standing pages as ended jobs pile up.

Targets: a tick of at most 20 ms at 10,000,000 jobs of history, and flat from 100,000 (it reads
indexes over unended jobs only); a batch's summary (``GET /api/batches/ID``, of the first ended
batch, which holds ``--per-batch`` jobs), ``GET /api/batches`` and the batch list page at most
20 ms, ``GET /metrics`` at most 50 ms, whatever the history: they read the kept counts
(:mod:`audiobatch.db.tallies`), not the rows.

Fills one fresh PostgreSQL database in bulk (INSERT ... SELECT over generate_series, as the
dashboard bench does; :mod:`tests.history_seed`): a running batch of 2,000 jobs waiting in every
active status, and ended batches of 10,000 jobs each with their attempts and outputs, grown to
each size in turn. At each size it times ticks (nothing to change: they find no work, as most
ticks do), routine ones and those that also look at every pending job's parents (the backstop
for finishers that died, every ``BACKSTOP_EVERY_S``), and the three HTTP answers in-process (FastAPI's test client), each repeated, and
prints the median and p95. On a shared machine a tick's time is mostly its twenty-odd round trips
waiting for a core, so the work its statements cost the server (pages touched and execution
time, from ``EXPLAIN (ANALYZE, BUFFERS)``) is printed too, for the tick and each answer: that is
what must not grow.

    .venv/bin/python bench/history.py [--sizes 100000,1000000] [--huge] [--repeat 50]

``--huge`` adds 10,000,000 jobs (about 8 GB of disk, and half an hour of filling).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from audiobatch.config import Settings
from audiobatch.dashboard.app import create_app
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import utcnow
from audiobatch.db.reconcile import tick
from audiobatch.db.session import get_engine
from audiobatch.deployment import BACKSTOP_EVERY_S
from audiobatch.storage.local import LocalStorage
from bench.dashboard import timed_ms
from tests import services
from tests.history_seed import (
    JOBS_PER_BATCH,
    explained,
    fill_active,
    fill_history,
    queued_by_queue,
    tick_statements,
)

TICK_TARGET_MS = 20.0
ACTIVE_JOBS = 2_000
HUGE = 10_000_000


def measure(label: str, call: Callable[[], object], repeat: int) -> float:
    samples = timed_ms(call, repeat)
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    print(f"  {label}: median {median:.1f} ms, p95 {p95:.1f} ms ({len(samples)} calls)")
    return median


def tick_work(url: str, storage: LocalStorage, backstop: bool) -> tuple[int, float]:
    """What one tick costs the server, whatever else the machine runs: the pages its statements
    touch (shared buffers hit or read) and their execution time, in ms."""
    return server_work(url, tick_statements(url, storage, backstop))


def server_work(url: str, statements: list[tuple[str, Any]]) -> tuple[int, float]:
    """The pages ``statements`` touch and their execution time on the server, in ms."""
    plans = explained(url, statements, analyze=True)
    pages = sum(p["Plan"]["Shared Hit Blocks"] + p["Plan"]["Shared Read Blocks"] for p in plans)
    return pages, sum(p["Execution Time"] for p in plans)


def answer_work(url: str, client: TestClient, path: str) -> tuple[int, float]:
    """What answering ``GET path`` costs the server: :func:`server_work` of its queries."""
    sent: list[tuple[str, Any]] = []

    def record(_c: Connection, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get(path).raise_for_status()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return server_work(url, [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--huge", action="store_true", help=f"also {HUGE:,} jobs")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--per-batch", type=int, default=JOBS_PER_BATCH, help="jobs in each ended batch"
    )
    args = parser.parse_args()
    sizes = sorted({int(size) for size in args.sizes.split(",")} | ({HUGE} if args.huge else set()))
    ticks: dict[int, float] = {}
    pages: dict[int, int] = {}
    with ExitStack() as stack:
        server = stack.enter_context(contextmanager(services.postgres_server)())
        url = stack.enter_context(contextmanager(services.fresh_postgres_database)(server))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audiobatch-bench-")))
        upgrade(url)
        fill_active(url, ACTIVE_JOBS, utcnow())
        settings = Settings(database_url=url, home=folder, storage_url=f"file://{folder}")
        app = create_app(settings)  # a loopback name: the dashboard answers no other by default
        client = stack.enter_context(TestClient(app, base_url="http://127.0.0.1"))
        storage = LocalStorage(folder)
        depths = queued_by_queue(url)  # the broker holds every wake-up: none is sent again
        filled = 0
        for size in sizes:
            started = time.monotonic()
            fill_history(url, size, filled, args.per_batch)
            filled = size
            print(f"{size:,} jobs of history (filled in {time.monotonic() - started:.0f} s):")

            def one_tick(backstop: bool) -> Callable[[], object]:
                return lambda: tick(
                    url, lambda _: None, storage, utcnow(), 300.0, 3, depths, backstop=backstop
                )

            def get(path: str) -> Callable[[], object]:
                return lambda: client.get(path).raise_for_status()

            def answer(label: str, path: str, repeat: int) -> None:
                measure(label, get(path), repeat)
                answer_pages, answer_ms = answer_work(url, client, path)
                print(f"    its statements on the server: {answer_pages} pages, {answer_ms:.2f} ms")

            few = max(args.repeat // 5, 5)
            ticks[size] = measure("reconciler tick", one_tick(False), args.repeat)
            pages[size], server_ms = tick_work(url, storage, backstop=False)
            print(f"  its statements on the server: {pages[size]} pages, {server_ms:.2f} ms")
            label = f"with the backstop (every {BACKSTOP_EVERY_S:.0f} s)"
            measure(f"reconciler tick {label}", one_tick(True), few)
            backstop_pages, backstop_ms = tick_work(url, storage, backstop=True)
            print(f"  its statements on the server: {backstop_pages} pages, {backstop_ms:.2f} ms")
            first_batch = f"h1 ({min(size, args.per_batch):,} jobs)"
            answer(f"batch summary {first_batch}", "/api/batches/h1", args.repeat)
            answer("GET /metrics", "/metrics", few)
            answer("GET /api/batches", "/api/batches", few)
            answer("batch list page (GET /)", "/", few)
    first, last = min(ticks), max(ticks)
    verdict = "meets" if ticks[last] <= TICK_TARGET_MS else "MISSES"
    print(
        f"tick at {last:,} jobs: {ticks[last]:.1f} ms, {ticks[last] / ticks[first]:.2f}x its time "
        f"and {pages[last] / pages[first]:.2f}x its pages at {first:,} — {verdict} the "
        f"{TICK_TARGET_MS:.0f} ms target"
    )


if __name__ == "__main__":
    main()
