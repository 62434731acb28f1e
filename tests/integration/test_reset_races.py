"""A quota-paused batch continuing at the account's reset, on PostgreSQL, while another host's
reconciler ticks at the same moment or an operator cancels or resumes the batch: it continues
once, a cancelled batch stays cancelled, and each paused job is queued again once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from audiobatch import control
from audiobatch.db import batches, reconcile
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.storage.local import LocalStorage
from tests.integration.test_job_states import claim, make_batch
from tests.races import at_once

KEYS = ["a", "b", "c"]
ROUNDS = range(10)


def quota_paused(url: str) -> tuple[dict[str, int], datetime]:
    """Batch b1 of three jobs, paused when job ``a`` was refused for the quota; it continues at
    the reset it returns."""
    ids = make_batch(url, KEYS)
    with session_scope(url) as session:
        session.get_one(Batch, "b1").continue_at_reset = True
    a = claim(url, ids["a"])
    reset = utcnow() + timedelta(hours=1)
    with session_scope(url) as session:
        batches.pause_for_account(
            session,
            a.job_id,
            "w1",
            "default",
            "quota",
            "quota_exceeded",
            batches.QuotaReset(reset, continue_by_default=False),
        )
    return ids, reset


def tick_at(url: str, storage: LocalStorage, now: datetime, woken: list[int]) -> int:
    done = reconcile.tick(url, lambda sent: woken.extend(j for j, _ in sent), storage, now, 300, 3)
    return done.resumed_at_reset


def state(url: str) -> tuple[BatchStatus, datetime | None, list[JobStatus]]:
    with session_scope(url) as session:
        batch = session.get_one(Batch, "b1")
        statuses = [job.status for job in session.query(Job).order_by(Job.key)]
        return batch.status, batch.resume_at, statuses


class Paused(NamedTuple):
    url: str
    reset: datetime  # when the account's quota resets, and the batch is to continue
    storage: LocalStorage


@pytest.fixture
def paused(migrated_postgres_url: str, tmp_path: Path) -> Paused:
    """A batch paused by the quota, to continue at the reset, on PostgreSQL."""
    _, reset = quota_paused(migrated_postgres_url)
    return Paused(migrated_postgres_url, reset, LocalStorage(tmp_path / "renders"))


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_reconcilers_ticking_at_the_reset_continue_the_batch_once(
    paused: Paused, round_: int
) -> None:
    url, reset, storage = paused
    woken: list[int] = []
    resumed = at_once([lambda: tick_at(url, storage, reset, woken)] * 2)
    assert sorted(resumed) == [0, len(KEYS)]
    assert state(url) == (BatchStatus.RUNNING, None, [JobStatus.QUEUED] * len(KEYS))
    assert len(set(woken)) == len(KEYS)


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_batch_cancelled_as_it_reaches_its_reset_stays_cancelled(
    paused: Paused, round_: int
) -> None:
    url, reset, storage = paused
    at_once(
        [
            lambda: tick_at(url, storage, reset, []),
            lambda: control.cancel(url, storage, "b1"),
        ]
    )
    reconcile.tick(url, lambda sent: None, storage, reset + timedelta(seconds=1), 300, 3)
    assert state(url) == (BatchStatus.CANCELLED, None, [JobStatus.CANCELLED] * len(KEYS))


@pytest.mark.parametrize("round_", ROUNDS)
def test_an_operator_resuming_as_the_reset_comes_queues_each_job_once(
    paused: Paused, round_: int
) -> None:
    url, reset, storage = paused
    by_tick, by_operator = at_once(
        [
            lambda: tick_at(url, storage, reset, []),
            lambda: control.resume(url, lambda sent: None, "b1").jobs,
        ]
    )
    assert by_tick + by_operator == len(KEYS)
    assert state(url) == (BatchStatus.RUNNING, None, [JobStatus.QUEUED] * len(KEYS))
