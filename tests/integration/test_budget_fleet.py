"""A character budget spent by several workers at once, on PostgreSQL, each with its own
limiter over one Redis: the batch pauses at its budget, overshooting it only by the requests in
flight when it was reached, and ``resume`` renders the jobs it withdrew."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from audiobatch import control
from audiobatch.backend import Backend
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus
from audiobatch.db.reports import batch_report
from audiobatch.db.session import session_scope
from audiobatch.db.submit import Spending
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.limiter import RedisLimiter
from audiobatch.render.runner import Runtime, run_job
from audiobatch.storage import open_storage
from tests.integration.test_costs import NUMBERED_CHARS, lines, submit
from tests.integration.test_render_pipeline import KEY, manifest

WORKERS, SLOTS, JOBS, BUDGET_LINES = 4, 3, 9, 2


@pytest.mark.parametrize("round_", range(10))
def test_workers_spending_one_budget_overshoot_it_only_by_the_requests_in_flight(
    migrated_postgres_url: str, redis_url: str, tmp_path: Path, round_: int
) -> None:
    url = migrated_postgres_url
    budget = BUDGET_LINES * NUMBERED_CHARS
    batch_id, ids = submit(url, manifest(tmp_path, lines(JOBS)), Spending(character_budget=budget))
    config = EmulatorConfig(api_keys=frozenset({KEY}), latency_ms=50, concurrency=SLOTS)
    with serve_in_thread(config) as emulator:
        fleet = [
            Runtime(
                database_url=url,
                storage=open_storage(f"file://{tmp_path / 'renders'}"),
                client=ElevenLabsClient(emulator.url, KEY),
                limiter=RedisLimiter(redis.Redis.from_url(url=redis_url), "k", {"general": SLOTS}),
                publish=lambda sent: None,
                worker=f"w{n}",
                backend=Backend.of(emulator.url, KEY),
            )
            for n in range(WORKERS)
        ]
        start = threading.Barrier(JOBS)

        def work(n: int, job_id: int) -> None:
            start.wait()
            run_job(job_id, fleet[n % WORKERS])

        with ThreadPoolExecutor(JOBS) as pool:
            list(pool.map(work, range(JOBS), ids.values()))
        sent = len(httpx.get(f"{emulator.url}/_emulator/ledger").json())
        with session_scope(url) as session:
            batch = session.get_one(Batch, batch_id)
            report = batch_report(session, batch)
            paused = session.scalars(
                select(Job).where(Job.batch_id == batch_id, Job.status == JobStatus.PAUSED)
            ).all()
            assert batch.status is BatchStatus.PAUSED
            assert "character budget reached" in (batch.status_reason or "")
        assert report["characters"] == sent * NUMBERED_CHARS
        assert BUDGET_LINES <= sent <= BUDGET_LINES + SLOTS - 1
        assert len(paused) == JOBS - sent
        control.resume(url, lambda sent: None, batch_id)
        for job in paused:
            run_job(job.id, fleet[0])
        assert len(httpx.get(f"{emulator.url}/_emulator/ledger").json()) == JOBS
    with session_scope(url) as session:
        assert session.get_one(Batch, batch_id).status is BatchStatus.SUCCEEDED
