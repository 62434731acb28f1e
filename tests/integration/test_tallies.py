"""Kept counts on real databases: after any mix of transitions, concurrent finishers and folds,
they equal a recount of the rows; ``check`` reports drift and ``--fix`` repairs it."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from audiobatch.db import batches, jobs, tallies
from audiobatch.db.invariants import kept_counts
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import (
    Attempt,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
    Tally,
    utcnow,
)
from audiobatch.db.retention import delete_batches
from audiobatch.db.session import get_engine, session_scope
from audiobatch.storage import StoredObject
from tests.history_seed import fill_active, fill_history

OUTCOMES = ["succeeded", "retry", "failed", "paused", "abandoned"]
LATENCIES = [0, 99, 100, 101, 250, 999, 2500, 70000, 120000, 120001, 500000]


def make_batch(url: str, batch_id: str, size: int, seed: int = 0) -> list[int]:
    """A queued batch of ``size`` jobs, a tenth of them music with a length, every fifth pending
    on the job before it; their ids."""
    rng = random.Random(seed)
    now = utcnow()
    with session_scope(url) as session:
        session.add(
            Batch(
                id=batch_id,
                name=batch_id,
                status=BatchStatus.QUEUED,
                manifest_sha256="0" * 64,
                source="t",
                created_at=now,
            )
        )
        rows = [
            Job(
                batch_id=batch_id,
                key=f"j{n}",
                kind="music" if n % 10 == 3 else "dialogue",
                queue="dialogue",
                spec={},
                music_ms=rng.choice([None, 10_000, 30_000]) if n % 10 == 3 else None,
                status=JobStatus.PENDING if n % 5 == 4 else JobStatus.QUEUED,
                created_at=now,
            )
            for n in range(size)
        ]
        session.add_all(rows)
        session.flush()
        session.add_all(
            JobDependency(job_id=rows[n].id, parent_id=rows[n - 1].id)
            for n in range(size)
            if n % 5 == 4
        )
        return [job.id for job in rows]


def output(n: int) -> StoredObject:
    return StoredObject(f"k{n}", f"file:///k{n}", 1000 + n, "a" * 64, "audio/mpeg")


def attempt(claim: jobs.Claim, rng: random.Random) -> Attempt:
    now = utcnow()
    return Attempt(
        job_id=claim.job_id,
        batch_id=claim.batch_id,
        number=claim.attempts + 1,
        worker="w",
        started_at=now,
        finished_at=now,
        outcome=rng.choice(OUTCOMES),
        http_status=rng.choice([200, 429, 500, None]),
        latency_ms=rng.choice(LATENCIES),
        character_cost=rng.choice([None, 0, 17, 1200]),
    )


def assert_exact(url: str) -> None:
    """Every kept figure of every batch equals its recount, and the totals their sum."""
    with session_scope(url) as session:
        tallies.snapshot(session)
        batch_ids = list(session.scalars(select(Batch.id)))
        assert tallies.drift(session, batch_ids) == []
        counted = tallies.recount(session, batch_ids)
        total = sum((c.values for c in counted.values()), Counter[str]())
        assert +tallies.total_tallies(session).values == +total


def random_transitions(url: str, batch_id: str, ids: list[int], steps: int, seed: int) -> None:
    """``steps`` transitions of the state machine chosen at random, folds among them."""
    rng = random.Random(seed)
    held: dict[int, jobs.Claim] = {}
    for step in range(steps):
        move = rng.randrange(13)
        now = utcnow()
        with session_scope(url) as session:
            job_id = rng.choice(ids)
            if move <= 2:
                c = jobs.claim(session, job_id, f"w{job_id}", rng.choice([-1, 60]), now)
                if c is not None:
                    held[job_id] = c
            elif move <= 5 and held:
                c = held.pop(rng.choice(list(held)))
                if rng.random() < 0.5:
                    jobs.record_attempt(session, attempt(c, rng))
                cached = rng.choice([None, ids[0]])
                outputs = [(f"o{i}", output(c.job_id * 10 + i)) for i in range(rng.randrange(3))]
                choice = rng.randrange(5)
                if choice <= 2:
                    jobs.succeed(session, c, f"w{c.job_id}", outputs, now, cached_from=cached)
                elif choice == 3:
                    jobs.fail(session, c, f"w{c.job_id}", "no", "x", now)
                else:
                    jobs.retry_later(session, c.job_id, f"w{c.job_id}", "later", None, now)
            elif move == 6 and held:
                c = held.pop(rng.choice(list(held)))
                jobs.release(session, c.job_id, f"w{c.job_id}")
            elif move == 7:
                jobs.take_back_expired(session, now + timedelta(seconds=1), 2)
                jobs.requeue_due(session, now + timedelta(seconds=1))
            elif move == 8:
                batches.pause_over_budget(session, batch_id)
                jobs.pause_waiting(session, select(Batch.id).where(Batch.id == batch_id))
            elif move == 9:
                jobs.resume(session, batch_id)
                jobs.promote_ready(session)
                jobs.fail_orphans(session, now)
            elif move == 10:
                failed = session.scalars(
                    select(Job.id).where(Job.batch_id == batch_id, Job.status == JobStatus.FAILED)
                )
                jobs.retry_failed(session, list(failed))
            elif move == 11 and step % 7 == 0:
                jobs.cancel(session, batch_id, now, running_too=rng.random() < 0.5)
            else:
                tallies.fold(session, limit=rng.choice([1, 200]))
        if step % 25 == 0:
            assert_exact(url)


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_counts_equal_a_recount_after_random_transitions(database_url: str, seed: int) -> None:
    ids = make_batch(database_url, "b1", 40, seed)
    other = make_batch(database_url, "b2", 5, seed)
    random_transitions(database_url, "b1", ids, 300, seed)
    assert_exact(database_url)
    with session_scope(database_url) as session:
        assert sum(tallies.batch_tallies(session, ["b2"])["b2"].jobs.values()) == len(other)
        assert batches.status_counts(session, "b1") == {
            status: n
            for status, n in session.execute(
                select(Job.status, text("count(*)"))
                .where(Job.batch_id == "b1")
                .group_by(Job.status)
            )
        }


def test_folding_leaves_one_row_a_figure_and_the_same_sums(database_url: str) -> None:
    ids = make_batch(database_url, "b1", 10)
    random_transitions(database_url, "b1", ids, 60, seed=3)
    make_batch(database_url, "b2", 3)  # deltas of a batch not folded yet, whatever came before
    with session_scope(database_url) as session:
        before = tallies.batch_tallies(session, ["b1", "b2"])
        assert tallies.fold(session) >= 1
    with session_scope(database_url) as session:
        rows = session.execute(select(Tally.batch_id, Tally.name, Tally.folded)).all()
        assert all(folded for _, _, folded in rows)
        assert len(rows) == len({(b, name) for b, name, _ in rows})
        assert len(rows) == sum(len(+kept.values) for kept in before.values())
        assert tallies.batch_tallies(session, ["b1", "b2"]) == before
        assert tallies.fold(session) == 0
    assert_exact(database_url)


def test_many_workers_finishing_one_batch_at_once_keep_it_exact(postgres_url: str) -> None:
    upgrade(postgres_url)
    ids = make_batch(postgres_url, "b1", 400)
    queued = ids[: len(ids)]
    with session_scope(postgres_url) as session:
        claims = [c for i in queued if (c := jobs.claim(session, i, f"w{i}", 60, utcnow()))]
    workers = 16
    barrier = threading.Barrier(workers + 1)
    failures: list[BaseException] = []

    def finish(mine: list[jobs.Claim], seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for c in mine:
                with session_scope(postgres_url) as session:
                    jobs.record_attempt(session, attempt(c, rng))
                    if rng.random() < 0.8:
                        jobs.succeed(
                            session, c, f"w{c.job_id}", [("a", output(c.job_id))], utcnow()
                        )
                    else:
                        jobs.fail(session, c, f"w{c.job_id}", "no", "x", utcnow())
        except BaseException as exc:
            failures.append(exc)

    def fold_meanwhile() -> None:
        barrier.wait()
        for _ in range(20):
            with session_scope(postgres_url) as session:
                tallies.fold(session)

    threads = [
        threading.Thread(target=finish, args=(claims[n::workers], n)) for n in range(workers)
    ]
    threads.append(threading.Thread(target=fold_meanwhile))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert_exact(postgres_url)
    with session_scope(postgres_url) as session:
        assert tallies.batch_tallies(session, ["b1"])["b1"][tallies.OUTPUTS] > 0


def test_check_reports_drift_and_fix_repairs_it(database_url: str) -> None:
    ids = make_batch(database_url, "b1", 10)
    random_transitions(database_url, "b1", ids, 40, seed=4)
    make_batch(database_url, "b2", 3)
    assert list(kept_counts(database_url)) == []
    with session_scope(database_url) as session:
        session.execute(
            insert(Tally),
            [
                {"batch_id": "b2", "name": "jobs:queued", "value": 5},
                {"batch_id": "b2", "name": "characters", "value": -7},
            ],
        )
    found = list(kept_counts(database_url))
    assert sorted(b.detail for b in found) == [
        "batch b2: characters kept as -7, counted 0",
        "batch b2: jobs:queued kept as 8, counted 3",
    ]
    assert {b.invariant for b in found} == {"kept_count_drift"}
    repaired = list(kept_counts(database_url, fix=True))
    assert [b.detail.endswith("(repaired)") for b in repaired] == [True, True]
    assert list(kept_counts(database_url)) == []
    assert_exact(database_url)


def test_a_pruned_batch_leaves_no_tallies(database_url: str) -> None:
    ids = make_batch(database_url, "b1", 10)
    make_batch(database_url, "b2", 4)
    random_transitions(database_url, "b1", ids, 40, seed=5)
    with session_scope(database_url) as session:
        jobs.cancel(session, "b1", utcnow(), running_too=True)
        session.execute(
            Batch.__table__.update()
            .where(Batch.id == "b1")
            .values(status=BatchStatus.CANCELLED, finished_at=utcnow() - timedelta(days=9))
        )
    with session_scope(database_url) as session:
        assert delete_batches(session, ["b1"], utcnow() - timedelta(days=1)) == ["b1"]
    with session_scope(database_url) as session:
        assert session.scalars(select(Tally).where(Tally.batch_id == "b1")).all() == []
    assert_exact(database_url)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrading_counts_the_rows_written_before(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{backend}_url")
    upgrade(url, "0016")
    at = "'2026-01-01 00:00:00'"
    with get_engine(url).begin() as connection:
        for statement in [
            "INSERT INTO batches (id, name, status, manifest_sha256, source, fresh, created_at) "
            f"VALUES ('b1', 'old', 'succeeded', 'x', 'old.yaml', false, {at})",
            "INSERT INTO jobs (id, batch_id, key, kind, queue, spec, status, attempts, created_at) "
            f"VALUES (7, 'b1', 'm', 'music', 'music', '{{\"music_length_ms\": 9000}}', "
            f"'succeeded', 1, {at})",
            "INSERT INTO jobs (id, batch_id, key, kind, queue, spec, status, attempts, created_at) "
            f"VALUES (8, 'b1', 'd', 'dialogue', 'dialogue', '{{}}', 'failed', 1, {at})",
            "INSERT INTO attempts (job_id, batch_id, number, worker, started_at, finished_at, "
            f"outcome, http_status, latency_ms, character_cost) VALUES (7, 'b1', 1, 'w', {at}, "
            f"{at}, 'succeeded', 429, 300, 60)",
            "INSERT INTO artifacts (job_id, batch_id, name, key, uri, bytes, sha256, "
            f"content_type, created_at) VALUES (7, 'b1', 'audio.mp3', 'k', 'file:///k', 100, "
            f"'x', 'audio/mpeg', {at})",
        ]:
            connection.execute(text(statement))
    upgrade(url)
    assert_exact(url)
    with session_scope(url) as session:
        kept = tallies.batch_tallies(session, ["b1"])["b1"]
    assert (kept[tallies.MUSIC_MS], kept[tallies.CHARACTERS], kept[tallies.OUTPUT_BYTES]) == (
        9000,
        60,
        100,
    )
    assert kept.jobs == {JobStatus.SUCCEEDED: 1, JobStatus.FAILED: 1}
    assert kept.latency_le_ms[250] == 0 and kept.latency_le_ms[500] == 1


def test_the_history_fill_keeps_the_counts_a_recount_gives(postgres_url: str) -> None:
    upgrade(postgres_url)
    fill_history(postgres_url, 2_500, per_batch=1_000)
    fill_active(postgres_url, 40, utcnow())
    fill_history(postgres_url, 3_000, first_job=2_500, per_batch=1_000)
    assert_exact(postgres_url)
    with session_scope(postgres_url) as session:
        assert sum(tallies.total_tallies(session).jobs.values()) == 3_040
