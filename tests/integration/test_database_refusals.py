"""What the database refuses fails at once, and what the API answers is fitted before it is kept."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from audiobatch.db import jobs
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Attempt, Job, utcnow
from audiobatch.db.session import patiently, session_scope
from audiobatch.errors import DatabaseRejectedError
from tests.integration.test_job_states import make_batch


def a_job(url: str) -> int:
    """A job of a batch ``b1``; its id."""
    return make_batch(url, ["a"])["a"]


def answer_too_big_for_its_columns(job_id: int) -> Attempt:
    now = utcnow()
    return Attempt(
        job_id=job_id, batch_id="b1", number=1, worker="w1", started_at=now, finished_at=now,
        outcome="retry", http_status=99999999999, error_code="c" * 1000, error_message="m",
        request_id="r" * 1000, latency_ms=5, character_cost=99999999999,
    )  # fmt: skip


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """A migrated PostgreSQL database: the one that enforces integer ranges and lengths."""
    upgrade(postgres_url)
    return postgres_url


def test_an_attempt_whose_values_do_not_fit_is_recorded_fitted(database_url: str) -> None:
    job_id = a_job(database_url)
    with session_scope(database_url) as session:
        jobs.record_attempt(session, answer_too_big_for_its_columns(job_id))
    with session_scope(database_url) as session:
        kept = session.scalars(select(Attempt)).one()
        assert (kept.character_cost, kept.http_status) == (2**31 - 1, 2**31 - 1)
        assert (len(kept.request_id or ""), len(kept.error_code or "")) == (128, 64)
        assert session.get_one(Job, job_id).attempts == 1


def test_a_value_out_of_range_is_refused_at_once_not_waited_out(postgres_database: str) -> None:
    job_id = a_job(postgres_database)
    started = time.monotonic()
    with pytest.raises(DatabaseRejectedError, match=r"does not fit its column.*out of range"):
        patiently(
            postgres_database,
            lambda s: s.execute(update(Job).where(Job.id == job_id).values(attempts=99999999999)),
            patience_s=30,
        )
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("INSERT INTO batches (id) VALUES ('b1')", "breaks a constraint"),
        ("SELECT * FROM missing_table", "missing_table"),
    ],
)
def test_a_statement_the_database_refuses_is_not_taken_for_an_outage(
    database_url: str, statement: str, refusal: str
) -> None:
    with pytest.raises(DatabaseRejectedError, match=refusal):
        patiently(database_url, lambda session: session.execute(text(statement)), patience_s=30)


def test_a_table_the_schema_lacks_points_at_the_upgrade(postgres_database: str) -> None:
    with pytest.raises(DatabaseRejectedError, match="audiobatch db upgrade"):
        patiently(postgres_database, lambda session: session.execute(text("SELECT * FROM gone")))
