"""Every batch ends: races between finishers, a name reused by a restarted process, and the
reconciler's backstop for what a dead finisher left undone. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from audiobatch.db import jobs, reconcile
from audiobatch.db.models import BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.limiter import RedisLimiter
from audiobatch.render.leases import LeaseKeeper, LeaseLostError
from audiobatch.storage.local import LocalStorage
from tests.integration.test_job_states import OUTPUT, claim, make_batch, status_of
from tests.races import at_once
from tests.services import PrivateRedis

ROUNDS = 25
PARTS = 6


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parents_finishing_at_the_same_instant_queue_their_dependant_exactly_once(
    database_url: str, round_: int
) -> None:
    parts = [f"part-{n}" for n in range(PARTS)]
    ids = make_batch(database_url, [*parts, "episode"], parents={"episode": parts})
    claims = [claim(database_url, ids[key], worker=key) for key in parts]

    def finish(c: jobs.Claim) -> list[tuple[int, str]]:
        with session_scope(database_url) as session:
            return jobs.succeed(session, c, c.key, [("audio.mp3", OUTPUT)], utcnow()).queued

    queued = at_once([partial(finish, c) for c in claims])
    assert sorted(q for q in queued if q) == [[(ids["episode"], "dialogue")]]
    assert status_of(database_url, ids["episode"]) is JobStatus.QUEUED


def test_the_tick_queues_a_pending_job_whose_parents_all_succeeded(
    database_url: str, tmp_path: Path
) -> None:
    ids = make_batch(database_url, ["a", "b", "c"], parents={"c": ["a", "b"]})
    with session_scope(database_url) as session:  # their finishers died before queueing "c"
        session.execute(
            update(Job).where(Job.id.in_([ids["a"], ids["b"]])).values(status=JobStatus.SUCCEEDED)
        )
    sent: list[tuple[int, str]] = []
    result = reconcile.tick(database_url, sent.extend, LocalStorage(tmp_path), utcnow(), 300, 3)
    assert result.pending_promoted == 1
    assert status_of(database_url, ids["c"]) is JobStatus.QUEUED
    assert (ids["c"], "dialogue") in sent


def test_the_tick_fails_a_pending_job_whose_parent_failed_and_the_batch_ends(
    database_url: str, tmp_path: Path
) -> None:
    ids = make_batch(database_url, ["a", "b", "c"], parents={"b": ["a"], "c": ["b"]})
    with session_scope(database_url) as session:
        session.execute(update(Job).where(Job.id == ids["a"]).values(status=JobStatus.FAILED))
    storage = LocalStorage(tmp_path)
    result = reconcile.tick(database_url, lambda _: None, storage, utcnow(), 300, 3)
    assert result.pending_failed == 1
    assert [status_of(database_url, ids[k]) for k in "bc"] == [JobStatus.FAILED] * 2
    assert (
        reconcile.tick(database_url, lambda _: None, storage, utcnow(), 300, 3).batches_ended == 0
    )
    with session_scope(database_url) as session:
        assert session.get_one(Job, ids["c"]).error_code == "dependency_failed"


def test_a_process_reusing_a_dead_one_s_name_renews_only_the_jobs_it_claimed(
    database_url: str,
) -> None:
    # A restarted container: same hostname, same pid. Its name alone must not keep the dead
    # process's job alive.
    ids = make_batch(database_url, ["dead-s", "mine"])
    claim(database_url, ids["dead-s"], worker="host:1", lease_s=1)
    claim(database_url, ids["mine"], worker="host:1", lease_s=1)
    keeper = LeaseKeeper(database_url, "host:1", 300, utcnow)
    keeper.hold(ids["mine"])
    keeper.renew()
    with session_scope(database_url) as session:
        dead = session.get_one(Job, ids["dead-s"])
        mine = session.get_one(Job, ids["mine"])
        assert dead.lease_expires_at is not None and mine.lease_expires_at is not None
        assert (dead.lease_expires_at - utcnow()).total_seconds() < 2
        assert (mine.lease_expires_at - utcnow()).total_seconds() > 250


def test_a_lease_keeper_that_cannot_renew_gives_its_jobs_up_and_says_so(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_batch(database_url, ["a"])
    claim(database_url, ids["a"], worker="w1", lease_s=1)
    lost = threading.Event()
    keeper = LeaseKeeper(database_url, "w1", 0.3, utcnow, on_leases_lost=lost.set)

    def broken(*_: object) -> set[int]:
        raise RuntimeError("renewal broke")

    monkeypatch.setattr(jobs, "extend_leases", broken)
    keeper.hold(ids["a"])
    assert lost.wait(5), "the keeper never reported its lost leases"
    with pytest.raises(LeaseLostError):
        keeper.check(ids["a"])
    keeper.drop(ids["a"])


def test_a_limiter_whose_redis_stops_answering_costs_no_job(database_url: str) -> None:
    ids = make_batch(database_url, ["a"])
    claim(database_url, ids["a"], worker="w1", lease_s=1)
    lost = threading.Event()
    with PrivateRedis() as server:
        limiter = RedisLimiter(
            redis.Redis.from_url(server.url, socket_timeout=1), "key", {"general": 1}
        )
        keeper = LeaseKeeper(database_url, "w1", 0.3, utcnow, on_leases_lost=lost.set)
        with limiter.slot("general"):
            keeper.hold(ids["a"])
            server.freeze()  # cut off while the request is in flight: every call times out
            assert not lost.wait(3), "the keeper gave its job up for want of the limiter"
            keeper.check(ids["a"])
            with session_scope(database_url) as session:
                expires = session.get_one(Job, ids["a"]).lease_expires_at
            assert expires is not None and expires > utcnow()
            keeper.drop(ids["a"])
        server.thaw()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_operator_retry_racing_the_batch_s_end_leaves_it_open_or_ended_whole(
    database_url: str, round_: int
) -> None:
    from audiobatch.db import batches, operations
    from audiobatch.db.models import Batch

    ids = make_batch(database_url, ["failed", "last"])
    with session_scope(database_url) as session:
        session.execute(update(Job).where(Job.id == ids["failed"]).values(status=JobStatus.FAILED))
    last = claim(database_url, ids["last"])
    with session_scope(database_url) as session:
        jobs.succeed(session, last, "w1", [("audio.mp3", OUTPUT)], utcnow())

    def end() -> None:
        with session_scope(database_url) as session:
            batches.end_batch_if_done(session, "b1", utcnow())

    def retry() -> None:
        with session_scope(database_url) as session:
            operations.retry_failed(session, session.get_one(Batch, "b1"))

    at_once([end, retry])
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, "b1")
        retried = session.get_one(Job, ids["failed"]).status
    # whichever came first, the retried job is queued in a batch that runs (an end that came
    # first was undone by the retry); never an ended batch with a job still to run
    assert (batch.status, retried) == (BatchStatus.RUNNING, JobStatus.QUEUED)
