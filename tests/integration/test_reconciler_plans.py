"""The reconciler reads what is active, not what is stored: beside a history of ended jobs, every
statement of its tick reaches jobs through an index over unended jobs, or by the key of a job or of
an unended batch, as PostgreSQL's planner chooses it from the gathered statistics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from audiobatch.db.migrate import upgrade
from audiobatch.db.models import utcnow
from audiobatch.db.session import get_engine
from audiobatch.storage.local import LocalStorage
from tests.history_seed import explained, fill_active, fill_history, tick_statements

HISTORY_JOBS = 100_000
ACTIVE_JOBS = 1_000
KEYED = {"pk_jobs", "ix_jobs_batch_id_status"}
"""Indexes over every job, which the tick uses only to look jobs up by id or by (unended) batch;
beside them, the active batch's attempts are summed from ``ix_attempts_batch_id``."""


@pytest.fixture
def history_url(postgres_url: str) -> str:
    upgrade(postgres_url)
    fill_history(postgres_url, HISTORY_JOBS)
    fill_active(postgres_url, ACTIVE_JOBS, utcnow())
    return postgres_url


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if plan["Node Type"].endswith("Scan") and "Relation Name" in plan:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


def partial_indexes(url: str) -> set[str]:
    query = "SELECT indexrelid::regclass::text FROM pg_index WHERE indpred IS NOT NULL"
    with get_engine(url).connect() as connection:
        return set(connection.scalars(text(query)))


def test_no_tick_statement_reads_the_history_of_ended_jobs(
    history_url: str, tmp_path: Path
) -> None:
    statements = tick_statements(history_url, LocalStorage(tmp_path))
    assert len(statements) >= 10
    bounded = partial_indexes(history_url) | KEYED | {"ix_attempts_batch_id"}
    unbounded = []
    for (statement, _), plan in zip(statements, explained(history_url, statements), strict=True):
        for scan in scans(plan["Plan"]):
            read = scan["Node Type"], scan["Relation Name"], scan.get("Index Name")
            if read[1] in {"jobs", "attempts"} and read[2] not in bounded:
                unbounded.append((" ".join(statement.split())[:120], read))
    assert unbounded == []
