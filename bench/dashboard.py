"""Dashboard: the summary of a batch of 100,000 jobs (counts, progress, ETA, characters, outputs).

Target: at most 50 ms on PostgreSQL (p95, the queries alone and the HTTP answer alike).

Fills a fresh PostgreSQL database in bulk (INSERT ... SELECT over generate_series): the measured
batch, running, with 100,000 jobs (most ended, with one attempt each and an output each that
succeeded, some failed after a retry, the rest queued or running), and an ended batch of as many
beside it. Then times ``GET /api/batches/ID`` in-process (FastAPI's test client: routing,
validation, JSON) and its queries alone (:func:`audiobatch.db.progress.batch_progress`), each
repeated, and prints the median and the p95 against the target. The summary shows the batch's
usage (characters, outputs) as last summed, at most seconds ago (:mod:`audiobatch.dashboard.usage`);
the time of that sum, made apart from the requests, is printed too.

    .venv/bin/python bench/dashboard.py [--jobs 100000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from audiobatch.config import Settings
from audiobatch.dashboard.app import create_app
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch, utcnow
from audiobatch.db.progress import batch_progress, batch_usage
from audiobatch.db.session import get_engine, session_scope
from audiobatch.db.workers import WORKER
from audiobatch.render.families import QUEUES
from audiobatch.worker.heartbeat import Heartbeat
from tests import services

TARGET_MS = 50.0
MEASURED, BESIDE = "bench-running", "bench-ended"

BATCH = """
INSERT INTO batches (id, name, status, manifest_sha256, source, fresh, created_at)
VALUES (:id, :name, :status, :sha256, 'bench.jsonl', false, now() - interval '1 hour')
"""
# of every 100 jobs: 70 succeeded, 5 failed, 5 running, 20 queued (an ended batch: all succeeded)
JOBS = """
INSERT INTO jobs (batch_id, key, kind, queue, spec, status, attempts, lost_leases, created_at,
                  started_at, finished_at, error, error_code)
SELECT :batch, 'j' || n, k.kind, k.kind, '{}', s.status, s.attempts, 0, now() - interval '1 hour',
       CASE WHEN s.status <> 'queued' THEN now() - (n % 1200) * interval '1 second' END,
       CASE WHEN s.status IN ('succeeded', 'failed') THEN now() - (n % 600) * interval '1 second' END,
       CASE WHEN s.status = 'failed' THEN 'the API refused the request' END,
       CASE WHEN s.status = 'failed' THEN 'invalid_request' END
FROM generate_series(1, :jobs) AS n
CROSS JOIN LATERAL (SELECT CASE WHEN n % 10 = 0 THEN 'music' ELSE 'dialogue' END AS kind) AS k
CROSS JOIN LATERAL (
    SELECT CASE WHEN CAST(:ended AS boolean) OR n % 100 < 70 THEN 'succeeded' WHEN n % 100 < 75 THEN 'failed'
                WHEN n % 100 < 80 THEN 'running' ELSE 'queued' END AS status,
           CASE WHEN CAST(:ended AS boolean) OR n % 100 < 70 THEN 1 WHEN n % 100 < 75 THEN 2 ELSE 0 END AS attempts
) AS s
"""
ATTEMPTS = """
INSERT INTO attempts (job_id, batch_id, number, worker, started_at, finished_at, outcome,
                      http_status, error_code, request_id, latency_ms, character_cost)
SELECT j.id, j.batch_id, a.number, 'bench:1', j.finished_at - interval '1 second', j.finished_at,
       CASE WHEN j.status = 'succeeded' THEN 'succeeded' WHEN a.number = 1 THEN 'retry'
            ELSE 'failed' END,
       CASE WHEN j.status = 'succeeded' THEN 200 WHEN a.number = 1 THEN 503 ELSE 422 END,
       CASE WHEN j.status = 'failed' THEN 'invalid_request' END,
       md5(j.id::text || a.number), 900 + j.id % 300, 60
FROM jobs AS j CROSS JOIN LATERAL generate_series(1, j.attempts) AS a(number)
WHERE j.batch_id = :batch
"""
ARTIFACTS = """
INSERT INTO artifacts (job_id, batch_id, name, key, uri, bytes, sha256, content_type, created_at)
SELECT id, batch_id, 'audio.mp3', batch_id || '/' || batch_id || '/' || key || '/audio.mp3',
       'file:///renders/' || key, 48000 + id % 1000, md5(key) || md5(key), 'audio/mpeg', finished_at
FROM jobs WHERE batch_id = :batch AND status = 'succeeded'
"""


def fill(url: str, jobs: int) -> None:
    """Both batches, their jobs, attempts and outputs; then the statistics autovacuum keeps."""
    for batch, ended in ((BESIDE, True), (MEASURED, False)):
        started = time.monotonic()
        with get_engine(url).begin() as connection:
            status = "succeeded" if ended else "running"
            sha256 = hashlib.sha256(batch.encode()).hexdigest()
            values = {"id": batch, "name": batch, "status": status, "sha256": sha256}
            connection.execute(text(BATCH), values)
            connection.execute(text(JOBS), {"batch": batch, "jobs": jobs, "ended": ended})
            connection.execute(text(ATTEMPTS), {"batch": batch})
            connection.execute(text(ARTIFACTS), {"batch": batch})
        print(f"filled {batch}: {jobs} jobs in {time.monotonic() - started:.1f} s", flush=True)
    with get_engine(url).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def timed_ms(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: connections, statement caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float]) -> bool:
    p95 = statistics.quantiles(samples, n=20)[-1]
    verdict = "meets" if p95 <= TARGET_MS else "MISSES"
    print(
        f"{label}: median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms "
        f"({len(samples)} calls) — {verdict} the {TARGET_MS:.0f} ms target"
    )
    return p95 <= TARGET_MS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with ExitStack() as stack:
        server = stack.enter_context(contextmanager(services.postgres_server)())
        url = stack.enter_context(contextmanager(services.fresh_postgres_database)(server))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audiobatch-bench-")))
        upgrade(url)
        fill(url, args.jobs)
        settings = Settings(database_url=url, home=folder, storage_url=f"file://{folder}")
        client = stack.enter_context(TestClient(create_app(settings), base_url="http://127.0.0.1"))
        # a live worker, as while a batch renders: without one the summary has no ETA
        worker = Heartbeat(url, role=WORKER, queues=QUEUES, concurrency=8)
        worker.beat()  # live before the first call
        worker.start()
        stack.callback(worker.stop)

        with session_scope(url) as session:
            usage = batch_usage(session, MEASURED, utcnow())

        def query() -> object:
            with session_scope(url) as session:
                return batch_progress(session, session.get_one(Batch, MEASURED), utcnow(), usage)

        def usage_sum() -> object:
            with session_scope(url) as session:
                return batch_usage(session, MEASURED, utcnow())

        def http() -> object:
            answer = client.get(f"/api/batches/{MEASURED}")
            answer.raise_for_status()
            return answer.json()

        summary = http()
        assert isinstance(summary, dict)
        print(
            f"summary of {summary['total']} jobs: {summary['counts']}, "
            f"progress {summary['progress']:.3f}, ETA {summary['eta_s']:.0f} s, "
            f"{summary['characters']} characters, {summary['outputs']['files']} outputs"
        )
        met = [
            report("queries alone (batch_progress)", timed_ms(query, args.repeat)),
            report("HTTP in-process (GET /api/batches/ID)", timed_ms(http, args.repeat)),
        ]
        summed = timed_ms(usage_sum, 10)
        print(
            f"usage summed apart (every attempt and output; not on the request path): "
            f"median {statistics.median(summed):.1f} ms over {len(summed)} sums"
        )
    if not all(met):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
