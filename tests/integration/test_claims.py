"""Which job a wake-up claims: the most urgent batch's first, the account's concurrency shared
between batches of one priority, its own job when its batch is as entitled as any; on real
databases, with workers claiming at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from audiobatch.db import claims
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.priorities import NAMED


def make_batch(
    url: str, batch_id: str, jobs: int, priority: str = "normal", age_s: int = 0
) -> list[int]:
    """A queued batch of ``jobs`` dialogue jobs, created ``age_s`` seconds ago; their ids."""
    created = utcnow() - timedelta(seconds=age_s)
    with session_scope(url) as session:
        session.add(
            Batch(
                id=batch_id, name=batch_id, status=BatchStatus.QUEUED, manifest_sha256="0" * 64,
                source="t", created_at=created, priority=NAMED[priority],
            )
        )  # fmt: skip
        rows = [
            Job(
                batch_id=batch_id, key=f"{batch_id}-{n}", kind="dialogue", queue="dialogue",
                spec={}, status=JobStatus.QUEUED, created_at=created,
            )
            for n in range(jobs)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [job.id for job in rows]


def claim(url: str, hint: int, worker: str = "w") -> tuple[str, int] | None:
    """The batch and id of the job the wake-up of ``hint`` claims."""
    with session_scope(url) as session:
        claimed = claims.claim_next(session, hint, worker, 60, utcnow())
    return None if claimed is None else (claimed.batch_id, claimed.job_id)


def test_a_wake_up_claims_its_own_job_when_no_batch_is_more_entitled(database_url: str) -> None:
    ids = make_batch(database_url, "only", 3)
    assert claim(database_url, ids[2]) == ("only", ids[2])
    assert claim(database_url, ids[2]) == ("only", ids[0])  # its job taken: the oldest queued


def test_an_urgent_batch_s_jobs_are_claimed_before_an_older_backlog(database_url: str) -> None:
    backlog = make_batch(database_url, "backlog", 20, priority="bulk", age_s=60)
    urgent = make_batch(database_url, "urgent", 2, priority="urgent")
    # the broker delivers the backlog's wake-ups first: they start the urgent jobs
    taken = [claim(database_url, hint) for hint in backlog[:4]]
    assert taken == [("urgent", urgent[0]), ("urgent", urgent[1]), ("backlog", backlog[2]),
                     ("backlog", backlog[3])]  # fmt: skip


def test_batches_of_one_priority_take_turns(database_url: str) -> None:
    big = make_batch(database_url, "big", 20, age_s=60)
    make_batch(database_url, "small", 3)
    taken = [claim(database_url, hint)[0] for hint in big[:8]]  # type: ignore[index]
    assert taken == ["big", "small", "big", "small", "big", "small", "big", "big"]


def test_a_paused_batch_s_jobs_are_passed_over(database_url: str) -> None:
    first = make_batch(database_url, "first", 2, priority="urgent")
    second = make_batch(database_url, "second", 2)
    with session_scope(database_url) as session:
        session.execute(update(Batch).where(Batch.id == "first").values(status=BatchStatus.PAUSED))
        session.execute(update(Job).where(Job.batch_id == "first").values(status=JobStatus.PAUSED))
    assert claim(database_url, first[0]) == ("second", second[0])


def test_workers_claiming_at_once_each_take_a_different_job(postgres_url: str) -> None:
    from audiobatch.db.migrate import upgrade

    upgrade(postgres_url)
    urgent = make_batch(postgres_url, "urgent", 6, priority="urgent")
    backlog = make_batch(postgres_url, "backlog", 30, age_s=60)
    workers = 8
    for round_ in range(len(urgent + backlog) // workers):
        hints = backlog[round_ * 6 : round_ * 6 + workers]
        barrier = threading.Barrier(workers)
        taken: list[tuple[str, int] | None] = []

        def work(n: int, hints: list[int] = hints, barrier: threading.Barrier = barrier,
                 taken: list[tuple[str, int] | None] = taken) -> None:  # fmt: skip
            barrier.wait()
            taken.append(claim(postgres_url, hints[n % len(hints)], worker=f"w{n}"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = [t for t in taken if t is not None]
        assert len(got) == workers, taken  # nothing is left unclaimed while jobs wait
        assert len({job for _, job in got}) == workers  # no job twice
        if round_ == 0:
            assert {job for batch, job in got if batch == "urgent"} == set(urgent)
