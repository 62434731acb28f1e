"""Job state transitions on real databases: one claim wins, a batch ends once, the tick recovers."""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select, update

from audiobatch.db import batches, jobs, operations, reconcile
from audiobatch.db.listings import job_rows
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch, BatchStatus, Job, JobDependency, JobStatus, utcnow
from audiobatch.db.reports import job_views
from audiobatch.db.session import session_scope
from audiobatch.storage import StoredObject
from audiobatch.storage.local import LocalStorage
from tests.races import at_once


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "renders")


def make_batch(
    url: str, keys: list[str], parents: dict[str, list[str]] | None = None
) -> dict[str, int]:
    parents = parents or {}
    now = utcnow()
    with session_scope(url) as session:
        session.add(
            Batch(
                id="b1",
                name="demo",
                status=BatchStatus.QUEUED,
                manifest_sha256="0" * 64,
                source="t",
                created_at=now,
            )
        )
        rows = {
            key: Job(
                batch_id="b1",
                key=key,
                kind="dialogue",
                queue="dialogue",
                spec={},
                status=JobStatus.PENDING if parents.get(key) else JobStatus.QUEUED,
                created_at=now,
            )
            for key in keys
        }
        session.add_all(rows.values())
        session.flush()
        for key, ps in parents.items():
            session.add_all(JobDependency(job_id=rows[key].id, parent_id=rows[p].id) for p in ps)
        return {key: job.id for key, job in rows.items()}


def status_of(url: str, job_id: int) -> JobStatus:
    with session_scope(url) as session:
        return session.get_one(Job, job_id).status


def claim(url: str, job_id: int, worker: str = "w1", lease_s: float = 60) -> jobs.Claim:
    with session_scope(url) as session:
        c = jobs.claim(session, job_id, worker, lease_s, utcnow())
    assert c is not None
    return c


OUTPUT = StoredObject(key="k", uri="file:///k", bytes=1, sha256="a" * 64, content_type="audio/mpeg")


def test_only_one_of_many_concurrent_claimants_wins(database_url: str) -> None:
    ids = make_batch(database_url, ["a"])
    winners: list[str] = []

    def try_claim(worker: str) -> None:
        with session_scope(database_url) as session:
            if jobs.claim(session, ids["a"], worker, 60, utcnow()) is not None:
                winners.append(worker)

    threads = [threading.Thread(target=try_claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert status_of(database_url, ids["a"]) is JobStatus.RUNNING


def test_the_batch_ends_exactly_once_when_its_last_jobs_finish_together(database_url: str) -> None:
    keys = [f"j{i}" for i in range(6)]
    ids = make_batch(database_url, keys)
    claims = [claim(database_url, ids[k], worker=k) for k in keys]

    def finish(c: jobs.Claim) -> BatchStatus | None:
        with session_scope(database_url) as session:
            jobs.succeed(session, c, c.key, [("audio.mp3", OUTPUT)], utcnow())
        with session_scope(database_url) as session:
            return batches.end_batch_if_done(session, c.batch_id, utcnow())

    endings = at_once([partial(finish, c) for c in claims])
    assert [e for e in endings if e is not None] == [BatchStatus.SUCCEEDED]
    with session_scope(database_url) as session:
        assert session.get_one(Batch, "b1").status is BatchStatus.SUCCEEDED


@pytest.mark.parametrize("round_", range(10))
def test_a_job_handed_back_as_paused_while_its_batch_resumes_is_never_left_paused(
    postgres_url: str, round_: int
) -> None:
    """A worker hands back, as paused, a job claimed before its batch paused, while an operator
    resumes the batch: whichever goes first, the job ends up queued in a running batch."""
    upgrade(postgres_url)
    ids = make_batch(postgres_url, ["a", "b"])
    c = claim(postgres_url, ids["a"], worker="w1")
    with session_scope(postgres_url) as session:  # as a budget spent by another job pauses it
        jobs.pause_waiting(session, select(Batch.id).where(Batch.id == "b1"))
        session.execute(update(Batch).where(Batch.id == "b1").values(status=BatchStatus.PAUSED))

    def withdraw() -> None:
        with session_scope(postgres_url) as session:
            jobs.withdraw_if_batch_paused(session, c.job_id, c.batch_id, "w1")

    def resume() -> None:
        with session_scope(postgres_url) as session:
            operations.resume(session, session.get_one(Batch, "b1"))

    at_once([withdraw, resume])
    with session_scope(postgres_url) as session:
        assert session.get_one(Batch, "b1").status is BatchStatus.RUNNING
    assert status_of(postgres_url, ids["a"]) in {JobStatus.QUEUED, JobStatus.RUNNING}
    assert status_of(postgres_url, ids["b"]) is JobStatus.QUEUED


def test_a_worker_that_lost_its_lease_cannot_finish_the_job(database_url: str) -> None:
    ids = make_batch(database_url, ["a"])
    c = claim(database_url, ids["a"], worker="old", lease_s=-1)  # already expired
    with session_scope(database_url) as session:
        assert jobs.take_back_expired(session, utcnow(), 3) == 1
    claim(database_url, ids["a"], worker="new")
    with session_scope(database_url) as session:
        assert not jobs.succeed(session, c, "old", [("audio.mp3", OUTPUT)], utcnow()).won
    assert status_of(database_url, ids["a"]) is JobStatus.RUNNING


def test_a_job_that_outlives_too_many_workers_fails_as_worker_lost(database_url: str) -> None:
    ids = make_batch(database_url, ["killer", "child"], {"child": ["killer"]})
    for lost in (1, 2):
        claim(database_url, ids["killer"], worker=f"w{lost}", lease_s=-1)  # its worker died
        with session_scope(database_url) as session:
            assert jobs.take_back_expired(session, utcnow(), 3) == 1
        assert status_of(database_url, ids["killer"]) is JobStatus.QUEUED
    claim(database_url, ids["killer"], worker="w3", lease_s=-1)
    with session_scope(database_url) as session:
        assert jobs.take_back_expired(session, utcnow(), 3) == 1
        killer = session.get_one(Job, ids["killer"])
        assert (killer.status, killer.error_code, killer.lost_leases) == (
            JobStatus.FAILED,
            "worker_lost",
            3,
        )
        assert "3 times" in (killer.error or "")
        assert session.get_one(Job, ids["child"]).status is JobStatus.FAILED


def test_dependants_are_queued_when_all_their_parents_succeed(database_url: str) -> None:
    ids = make_batch(database_url, ["p1", "p2", "child"], {"child": ["p1", "p2"]})
    c1, c2 = claim(database_url, ids["p1"]), claim(database_url, ids["p2"])
    with session_scope(database_url) as session:
        assert jobs.succeed(session, c1, "w1", [], utcnow()).queued == []
    assert status_of(database_url, ids["child"]) is JobStatus.PENDING
    with session_scope(database_url) as session:
        assert jobs.succeed(session, c2, "w1", [], utcnow()).queued == [(ids["child"], "dialogue")]
    assert status_of(database_url, ids["child"]) is JobStatus.QUEUED


def test_a_failed_parent_fails_its_descendants_and_ends_the_batch(database_url: str) -> None:
    ids = make_batch(database_url, ["p", "c", "gc", "other"], {"c": ["p"], "gc": ["c"]})
    other = claim(database_url, ids["other"])
    with session_scope(database_url) as session:
        jobs.succeed(session, other, "w1", [], utcnow())
    c = claim(database_url, ids["p"])
    with session_scope(database_url) as session:
        jobs.fail(session, c, "w1", "boom", "bad", utcnow())
    with session_scope(database_url) as session:
        assert batches.end_batch_if_done(session, c.batch_id, utcnow()) is BatchStatus.PARTIAL
    with session_scope(database_url) as session:
        rows = {j.key: j for j in session.scalars(select(Job))}
    assert rows["gc"].status is JobStatus.FAILED
    assert rows["gc"].error == jobs.DEPENDENCY_FAILED


def test_the_tick_requeues_due_retries_and_announces_them(
    database_url: str, storage: LocalStorage
) -> None:
    ids = make_batch(database_url, ["a", "b"])
    sent: list[tuple[int, str]] = []
    now = utcnow()
    assert reconcile.tick(database_url, sent.extend, storage, now, 300, 3).published == 2
    assert (
        reconcile.tick(database_url, sent.extend, storage, now, 300, 3).published == 0
    )  # already announced
    c = claim(database_url, ids["a"])
    with session_scope(database_url) as session:
        jobs.retry_later(session, c.job_id, "w1", "busy", "system_busy", now + timedelta(seconds=5))
    assert reconcile.tick(database_url, sent.extend, storage, now, 300, 3).retries_due == 0
    later = now + timedelta(seconds=6)
    result = reconcile.tick(database_url, sent.extend, storage, later, 300, 3)
    assert (result.retries_due, result.published) == (1, 1)
    assert sent[-1] == (ids["a"], "dialogue")


def test_a_waiting_job_is_never_announced_again_while_the_broker_holds_its_wakeup(
    database_url: str, storage: LocalStorage
) -> None:
    make_batch(database_url, ["a", "b"])
    sent: list[tuple[int, str]] = []
    now = utcnow()
    reconcile.tick(database_url, sent.extend, storage, now, 300, 3, {"dialogue": 0})
    assert len(sent) == 2
    for waited in (60, 3600, 86400):  # a backlog that drains slowly
        later = now + timedelta(seconds=waited)
        tick = reconcile.tick(database_url, sent.extend, storage, later, 300, 3, {"dialogue": 2})
        assert tick.published == 0
    assert len(sent) == 2


def test_wakeups_the_broker_lost_are_announced_again_oldest_first(
    database_url: str, storage: LocalStorage
) -> None:
    ids = make_batch(database_url, ["a", "b", "c"])
    sent: list[tuple[int, str]] = []
    now = utcnow()
    reconcile.tick(database_url, sent.extend, storage, now, 300, 3, {"dialogue": 0})
    with session_scope(database_url) as session:  # "a" was announced first
        session.execute(
            update(Job).where(Job.id == ids["a"]).values(published_at=now - timedelta(seconds=1))
        )
    soon = now + timedelta(seconds=1)
    tick = reconcile.tick(database_url, sent.extend, storage, soon, 300, 3, {"dialogue": 1})
    assert tick.published == 0  # too recent to be taken for lost: maybe on its way to a worker
    settled = now + timedelta(seconds=reconcile.SETTLE_S + 1)
    tick = reconcile.tick(database_url, sent.extend, storage, settled, 300, 3, {"dialogue": 1})
    assert tick.published == 2  # three announced, one held: two lost
    assert sent[3:] == [(ids["a"], "dialogue"), (ids["b"], "dialogue")]
    later = settled + timedelta(seconds=reconcile.SETTLE_S + 1)
    tick = reconcile.tick(database_url, sent.extend, storage, later, 300, 3, {"dialogue": 3})
    assert tick.published == 0


def test_where_the_broker_cannot_tell_a_queues_depth_an_old_wakeup_is_taken_for_lost(
    database_url: str, storage: LocalStorage
) -> None:
    make_batch(database_url, ["a", "b"])
    sent: list[tuple[int, str]] = []
    now = utcnow()
    reconcile.tick(database_url, sent.extend, storage, now, 300, 3, {})
    assert reconcile.tick(database_url, sent.extend, storage, now, 300, 3, {}).published == 0
    later = now + timedelta(seconds=301)
    assert reconcile.tick(database_url, sent.extend, storage, later, 300, 3, {}).published == 2


def test_the_tick_ends_a_batch_whose_last_finisher_died_before_ending_it(
    database_url: str, storage: LocalStorage
) -> None:
    ids = make_batch(database_url, ["a"])
    c = claim(database_url, ids["a"])
    with session_scope(database_url) as session:
        jobs.succeed(session, c, "w1", [], utcnow())  # and the worker dies here
    assert reconcile.tick(database_url, [].extend, storage, utcnow(), 300, 3).batches_ended == 1
    with session_scope(database_url) as session:
        assert session.get_one(Batch, "b1").status is BatchStatus.SUCCEEDED
    assert storage.size("demo/b1/results.json")
    assert reconcile.tick(database_url, [].extend, storage, utcnow(), 300, 3).batches_ended == 0


def test_results_an_unreachable_store_kept_from_a_batchs_end_are_written_by_the_tick(
    database_url: str, tmp_path: Path
) -> None:
    mount = tmp_path / "mount"
    mount.write_text("a file where the store's folder should be: every write fails")
    storage = LocalStorage(mount / "renders")
    ids = make_batch(database_url, ["a"])
    c = claim(database_url, ids["a"])
    with session_scope(database_url) as session:
        jobs.succeed(session, c, "w1", [], utcnow())
    assert reconcile.end_batch(database_url, storage, "b1", utcnow())  # ended, results not written
    reconcile.tick(database_url, [].extend, storage, utcnow(), 300, 3)  # the store is still away
    mount.unlink()  # the store is back
    reconcile.tick(database_url, [].extend, storage, utcnow(), 300, 3)
    assert storage.size("demo/b1/results.json")
    with session_scope(database_url) as session:
        assert session.get_one(Batch, "b1").results_at is not None


def test_a_wakeup_lost_long_ago_is_sent_again(database_url: str, storage: LocalStorage) -> None:
    make_batch(database_url, ["a"])
    sent: list[tuple[int, str]] = []
    now = utcnow()
    reconcile.tick(database_url, sent.extend, storage, now, 300, 3)
    reconcile.tick(database_url, sent.extend, storage, now + timedelta(seconds=301), 300, 3)
    assert len(sent) == 2


def test_retry_requeues_failed_jobs_and_their_failed_dependants_wait_again(
    database_url: str,
) -> None:
    from audiobatch.db import operations

    ids = make_batch(database_url, ["ok", "p", "c", "solo"], {"c": ["p"]})
    for key, succeed in (("ok", True), ("p", False), ("solo", False)):
        c = claim(database_url, ids[key])
        with session_scope(database_url) as session:
            if succeed:
                jobs.succeed(session, c, "w1", [], utcnow())
            else:
                jobs.fail(session, c, "w1", "boom", None, utcnow())
    with session_scope(database_url) as session:
        assert batches.end_batch_if_done(session, "b1", utcnow()) is BatchStatus.PARTIAL
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, "b1")
        assert operations.retry_failed(session, batch) == 3
    with session_scope(database_url) as session:
        rows = {j.key: j for j in session.scalars(select(Job))}
        assert session.get_one(Batch, "b1").status is BatchStatus.RUNNING
    assert rows["ok"].status is JobStatus.SUCCEEDED
    assert (rows["p"].status, rows["solo"].status, rows["c"].status) == (
        JobStatus.QUEUED,
        JobStatus.QUEUED,
        JobStatus.PENDING,
    )
    assert rows["p"].attempts == 0 and rows["p"].error is None


def test_cancel_stops_waiting_jobs_and_lets_running_ones_finish(database_url: str) -> None:
    from audiobatch.db import operations

    ids = make_batch(database_url, ["running", "queued", "pending"], {"pending": ["running"]})
    c = claim(database_url, ids["running"])
    with session_scope(database_url) as session:
        assert operations.cancel(session, session.get_one(Batch, "b1"), utcnow()) == 2
    with session_scope(database_url) as session:
        assert batches.end_batch_if_done(session, "b1", utcnow()) is None  # one still runs
    with session_scope(database_url) as session:
        assert jobs.succeed(session, c, "w1", [("audio.mp3", OUTPUT)], utcnow()).won
    with session_scope(database_url) as session:
        assert batches.end_batch_if_done(session, "b1", utcnow()) is BatchStatus.CANCELLED
        rows = {j.key: j.status for j in session.scalars(select(Job))}
    assert rows == {
        "running": JobStatus.SUCCEEDED,
        "queued": JobStatus.CANCELLED,
        "pending": JobStatus.CANCELLED,
    }


def test_cancel_abandon_cancels_running_jobs_and_their_workers_cannot_finish_them(
    database_url: str,
) -> None:
    from audiobatch.db import operations

    ids = make_batch(database_url, ["running", "queued"])
    c = claim(database_url, ids["running"])
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, "b1")
        assert operations.cancel(session, batch, utcnow(), abandon=True) == 2
    with session_scope(database_url) as session:
        assert batches.end_batch_if_done(session, "b1", utcnow()) is BatchStatus.CANCELLED
        assert jobs.extend_leases(session, "w1", {ids["running"]}, 60, utcnow()) == set()
        assert not jobs.succeed(session, c, "w1", [("audio.mp3", OUTPUT)], utcnow()).won
    assert status_of(database_url, ids["running"]) is JobStatus.CANCELLED


def test_the_lease_keeper_renews_every_held_lease_and_notes_those_taken_over(
    database_url: str,
) -> None:
    from audiobatch.render.leases import LeaseKeeper, LeaseLostError

    ids = make_batch(database_url, ["kept", "taken"])
    for key in ids:
        claim(database_url, ids[key], worker="w1", lease_s=1)
    keeper = LeaseKeeper(database_url, "w1", 300, utcnow)
    for job_id in ids.values():
        keeper.hold(job_id)
    with session_scope(database_url) as session:  # "taken" expired and went to another worker
        session.execute(update(Job).where(Job.id == ids["taken"]).values(lease_owner="w2"))
    keeper.renew()
    keeper.check(ids["kept"])
    with pytest.raises(LeaseLostError):
        keeper.check(ids["taken"])
    with session_scope(database_url) as session:
        kept = session.get_one(Job, ids["kept"])
        assert kept.lease_expires_at is not None
        assert (kept.lease_expires_at - utcnow()).total_seconds() > 250


def test_a_job_waiting_in_a_paused_batch_says_why_the_batch_paused(database_url: str) -> None:
    ids = make_batch(database_url, ["busy", "fresh", "done"])
    reason = "character budget reached: 120 of 100 characters spent"
    with session_scope(database_url) as session:
        session.execute(
            update(Job).where(Job.id == ids["busy"])
            .values(status=JobStatus.PAUSED, error="429 too_many_concurrent_requests")
        )  # fmt: skip
        session.execute(update(Job).where(Job.id == ids["fresh"]).values(status=JobStatus.PAUSED))
        session.execute(
            update(Job).where(Job.id == ids["done"]).values(status=JobStatus.FAILED, error="gone")
        )
        session.execute(update(Batch).values(status=BatchStatus.PAUSED, status_reason=reason))
    with session_scope(database_url) as session:
        listed = {view["id"]: view["error"] for view in job_views(session, "b1")}
        rows = job_rows(session, list(session.scalars(select(Job).order_by(Job.id))))
    assert listed == {"busy": reason, "fresh": reason, "done": "gone"}
    assert [row["error"] for row in rows] == [reason, reason, "gone"]
