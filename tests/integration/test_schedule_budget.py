"""A scheduled run's character budget: real workers' code path against the emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from audiobatch.db import jobs, operations, schedules
from audiobatch.db.models import (
    Attempt,
    Batch,
    BatchStatus,
    CatchUpPolicy,
    Job,
    JobStatus,
    OverlapPolicy,
    utcnow,
)
from audiobatch.db.reconcile import tick
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.manifest.episodes import DEFAULT_PART_CHARS
from audiobatch.render.runner import run_job
from audiobatch.scheduler.checks import new_schedule
from audiobatch.scheduler.firing import Fired, fire_now
from audiobatch.storage.local import LocalStorage
from tests.integration.test_render_pipeline import KEY, runtime
from tests.integration.test_schedules import utc, write_manifest

CHARACTERS_PER_JOB = len("Brief 0.")


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


def jobs_of(url: str, batch_id: str) -> dict[str, Job]:
    with session_scope(url) as session:
        return {j.key: j for j in session.scalars(select(Job).where(Job.batch_id == batch_id))}


def scheduled_batch(url: str, tmp_path: Path, budget: int) -> Fired:
    """A batch of four dialogue jobs fired by a schedule with a character budget."""
    now = utc("2026-01-01 12:00")
    new = new_schedule(
        "briefs", cron="0 5 * * *", timezone="UTC", manifest=str(write_manifest(tmp_path, jobs=4)),
        store=False, overlap=OverlapPolicy.SKIP, catch_up=CatchUpPolicy.LATEST,
        character_budget=budget, now=now, part_chars=DEFAULT_PART_CHARS,
    )  # fmt: skip
    with session_scope(url) as session:
        schedules.add_schedule(session, new, now)
    fired = fire_now(url, lambda _: None, "briefs", now, part_chars=DEFAULT_PART_CHARS)
    assert fired.batch_id is not None
    return fired


def test_a_run_that_spends_its_budget_pauses_until_resumed(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    fired = scheduled_batch(database_url, tmp_path, CHARACTERS_PER_JOB * 2 - 1)
    assert fired.batch_id is not None
    rt, _ = runtime(database_url, emulator, tmp_path)
    ids = {key: job.id for key, job in jobs_of(database_url, fired.batch_id).items()}

    run_job(ids["brief-0"], rt)  # under the budget
    assert jobs_of(database_url, fired.batch_id)["brief-1"].status is JobStatus.QUEUED
    run_job(ids["brief-1"], rt)  # reaches it
    run_job(ids["brief-2"], rt)  # paused: the wake-up finds nothing to claim

    with session_scope(database_url) as session:
        batch = session.get_one(Batch, fired.batch_id)
        assert batch.status is BatchStatus.PAUSED
        assert batch.status_reason == (
            f"paused: character budget reached: {CHARACTERS_PER_JOB * 2} of "
            f"{CHARACTERS_PER_JOB * 2 - 1} characters spent; "
            f"`audiobatch resume {batch.id}` goes on without the budget (news-2026-01-01)"
        )
    statuses = {k: j.status for k, j in jobs_of(database_url, fired.batch_id).items()}
    assert statuses == {
        "brief-0": JobStatus.SUCCEEDED,
        "brief-1": JobStatus.SUCCEEDED,
        "brief-2": JobStatus.PAUSED,
        "brief-3": JobStatus.PAUSED,
    }

    with session_scope(database_url) as session:
        assert operations.resume(session, session.get_one(Batch, fired.batch_id)) == 2
    run_job(ids["brief-2"], rt)
    run_job(ids["brief-3"], rt)
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, fired.batch_id)
        assert (batch.status, batch.character_budget) == (BatchStatus.SUCCEEDED, None)


def test_the_tick_pauses_a_run_whose_finishers_missed_each_others_spend(
    database_url: str, tmp_path: Path
) -> None:
    fired = scheduled_batch(database_url, tmp_path, CHARACTERS_PER_JOB * 2)
    assert fired.batch_id is not None
    now = utcnow()
    with session_scope(database_url) as session:  # two attempts recorded, neither saw the other
        for job in list(jobs_of(database_url, fired.batch_id).values())[:2]:
            jobs.record_attempt(
                session,
                Attempt(
                    job_id=job.id, batch_id=job.batch_id, number=1, worker="w", started_at=now,
                    finished_at=now, outcome="succeeded", latency_ms=1,
                    character_cost=CHARACTERS_PER_JOB,
                ),
            )  # fmt: skip

    result = tick(database_url, lambda _: None, LocalStorage(tmp_path / "r"), now, 300, 3)

    assert result.budgets_reached == 1
    with session_scope(database_url) as session:
        assert session.get_one(Batch, fired.batch_id).status is BatchStatus.PAUSED
