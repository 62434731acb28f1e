"""A year of nightly renders, written straight to PostgreSQL in bulk: many ended batches of ended
jobs (each with its attempt and, when it succeeded, its output), and one running batch beside them
whose jobs wait in every active status. The running batch is steady: a reconciler tick over it
changes nothing, so ticks can be repeated and compared."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event, text

from audiobatch.db.models import JobStatus, utcnow
from audiobatch.db.reconcile import tick
from audiobatch.db.session import get_engine
from audiobatch.storage import Storage

ACTIVE = "history-running"
JOBS_PER_BATCH = 10_000
CHUNK_JOBS = 1_000_000
"""Ended jobs written per transaction."""

ENDED_BATCHES = """
INSERT INTO batches (id, name, status, manifest_sha256, source, fresh, created_at, finished_at,
                     results_at)
SELECT 'h' || b, 'nightly-' || b, CASE WHEN b % 10 = 0 THEN 'partial' ELSE 'succeeded' END,
       md5(b::text) || md5(b::text), 'nightly.jsonl', false, now() - b * interval '1 day',
       now() - b * interval '1 day' + interval '2 hours',
       now() - b * interval '1 day' + interval '2 hours'
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS b
ON CONFLICT DO NOTHING
"""
# of every 100 ended jobs: 97 succeeded, 2 failed, 1 cancelled (failed and cancelled ones live in
# partial batches' numbers too: a fill, not a ledger)
ENDED_JOBS = """
INSERT INTO jobs (batch_id, key, kind, queue, spec, status, attempts, lost_leases, created_at,
                  started_at, finished_at, published_at, error, error_code)
SELECT 'h' || (n / :per_batch + 1), 'j' || n, k.kind, k.kind, '{}', s.status, 1, 0, t.at,
       t.at + interval '1 minute', t.at + interval '2 minutes', t.at,
       CASE WHEN s.status = 'failed' THEN 'the API refused the request' END,
       CASE WHEN s.status = 'failed' THEN 'invalid_request' END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
CROSS JOIN LATERAL (SELECT CASE WHEN n % 10 = 0 THEN 'music' ELSE 'dialogue' END AS kind) AS k
CROSS JOIN LATERAL (
    SELECT CASE WHEN n % 100 < 97 THEN 'succeeded' WHEN n % 100 < 99 THEN 'failed'
                ELSE 'cancelled' END AS status
) AS s
CROSS JOIN LATERAL (SELECT now() - (n / :per_batch + 1) * interval '1 day' AS at) AS t
"""
ENDED_ATTEMPTS = """
INSERT INTO attempts (job_id, batch_id, number, worker, started_at, finished_at, outcome,
                      http_status, error_code, request_id, latency_ms, character_cost)
SELECT id, batch_id, 1, 'history:1', started_at, finished_at,
       CASE WHEN status = 'succeeded' THEN 'succeeded' ELSE 'failed' END,
       CASE WHEN status = 'succeeded' THEN 200 ELSE 422 END, error_code, md5(id::text),
       900 + id % 300, 60
FROM jobs WHERE id > :after AND status <> 'cancelled'
"""
ENDED_ARTIFACTS = """
INSERT INTO artifacts (job_id, batch_id, name, key, uri, bytes, sha256, content_type, created_at)
SELECT id, batch_id, 'audio.mp3', batch_id || '/' || key || '/audio.mp3',
       'file:///renders/' || batch_id || '/' || key, 48000 + id % 1000, md5(key) || md5(key),
       'audio/mpeg', finished_at
FROM jobs WHERE id > :after AND status = 'succeeded'
"""
# every tenth ended job read the output of the job before it (a stitched episode, say)
ENDED_DEPENDENCIES = """
INSERT INTO job_dependencies (job_id, parent_id)
SELECT id, id - 1 FROM jobs WHERE id > :after + 1 AND id % 10 = 0
"""
ACTIVE_BATCH = """
INSERT INTO batches (id, name, status, manifest_sha256, source, fresh, created_at,
                     character_budget)
VALUES (:id, :id, 'running', :sha256, 'tonight.jsonl', false, :now, 1000000000)
"""
# of every 20 active jobs: 12 queued and announced, 2 running under a live lease, 2 retrying
# tomorrow, 4 pending on a running parent
ACTIVE_JOBS = """
INSERT INTO jobs (batch_id, key, kind, queue, spec, status, attempts, lost_leases, created_at,
                  published_at, lease_owner, lease_expires_at, next_attempt_at)
SELECT :batch, 'a' || n, 'dialogue', 'dialogue', '{}', s.status, 0, 0, :now,
       CASE WHEN s.status IN ('queued', 'running') THEN :now END,
       CASE WHEN s.status = 'running' THEN 'history:1' END,
       CASE WHEN s.status = 'running' THEN :later END,
       CASE WHEN s.status = 'retrying' THEN :later END
FROM generate_series(1, CAST(:jobs AS integer)) AS n
CROSS JOIN LATERAL (
    SELECT CASE WHEN n % 20 < 12 THEN 'queued' WHEN n % 20 < 14 THEN 'running'
                WHEN n % 20 < 16 THEN 'retrying' ELSE 'pending' END AS status
) AS s
"""
PENDING_ON_RUNNING = """
INSERT INTO job_dependencies (job_id, parent_id)
SELECT pending.id, (SELECT id FROM jobs WHERE batch_id = :batch AND status = 'running' LIMIT 1)
FROM jobs AS pending WHERE pending.batch_id = :batch AND pending.status = 'pending'
"""


def fill_history(url: str, jobs: int, first_job: int = 0, per_batch: int = JOBS_PER_BATCH) -> None:
    """Ended jobs numbered ``first_job`` up to ``jobs`` (so a fill can be grown), in batches of
    ``per_batch``, with their batches, attempts, outputs and dependencies (the database's
    triggers keep their counts as they are written); then ``VACUUM ANALYZE``."""
    engine = get_engine(url)
    with engine.begin() as connection:
        values = {
            "first": first_job // per_batch + 1,
            "last": (jobs - 1) // per_batch + 1,
        }
        connection.execute(text(ENDED_BATCHES), values)
    for start in range(first_job, jobs, CHUNK_JOBS):
        last = min(start + CHUNK_JOBS, jobs) - 1
        with engine.begin() as connection:
            after = connection.scalar(text("SELECT coalesce(max(id), 0) FROM jobs"))
            values = {"first": start, "last": last, "per_batch": per_batch}
            connection.execute(text(ENDED_JOBS), values)
            connection.execute(text(ENDED_ATTEMPTS), {"after": after})
            connection.execute(text(ENDED_ARTIFACTS), {"after": after})
            connection.execute(text(ENDED_DEPENDENCIES), {"after": after})
    analyze(url)


def fill_active(url: str, jobs: int, now: datetime) -> None:
    """The running batch :data:`ACTIVE`, with ``jobs`` jobs waiting in every active status."""
    later = now + timedelta(days=1)
    sha256 = hashlib.sha256(ACTIVE.encode()).hexdigest()
    with get_engine(url).begin() as connection:
        connection.execute(text(ACTIVE_BATCH), {"id": ACTIVE, "sha256": sha256, "now": now})
        values = {"batch": ACTIVE, "jobs": jobs, "now": now, "later": later}
        connection.execute(text(ACTIVE_JOBS), values)
        connection.execute(text(PENDING_ON_RUNNING), {"batch": ACTIVE})
    analyze(url)


def analyze(url: str) -> None:
    """The statistics autovacuum would gather, so that the planner chooses as in production."""
    with get_engine(url).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def queued_by_queue(url: str) -> dict[str, int]:
    """The running batch's announced queued jobs in each queue: the broker's depths when no
    wake-up is lost."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            text("SELECT queue, count(*) FROM jobs WHERE status = :queued GROUP BY queue"),
            {"queued": JobStatus.QUEUED.value},
        )
        return {queue: count for queue, count in rows}


def tick_statements(url: str, storage: Storage, backstop: bool = True) -> list[tuple[str, Any]]:
    """The queries and updates one tick sends (with their parameters), the broker holding every
    wake-up; with the ``backstop`` (pending jobs' parents looked at) or without."""
    sent: list[tuple[str, Any]] = []

    def record(_c: Connection, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    engine, depths = get_engine(url), queued_by_queue(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        tick(url, lambda _: None, storage, utcnow(), 300.0, 3, depths, backstop=backstop)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return [(s, p) for s, p in sent if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]


def explained(url: str, statements: list[tuple[str, Any]], analyze: bool = False) -> list[Any]:
    """PostgreSQL's plans of ``statements`` (JSON), run (``analyze``) in a transaction that is
    rolled back."""
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    with get_engine(url).connect() as connection:
        plans = [
            connection.exec_driver_sql(f"EXPLAIN ({options}) {statement}", parameters).scalar_one()
            for statement, parameters in statements
        ]
        connection.rollback()
    return [plan[0] for plan in plans]
