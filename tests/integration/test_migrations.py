"""The migrations produce exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from audiobatch.db.migrate import alembic_config, ensure_schema, upgrade
from audiobatch.db.models import Base
from audiobatch.db.session import get_engine
from audiobatch.errors import ConfigError


def test_migrations_produce_exactly_the_models_schema(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert {"batches", "jobs", "attempts", "artifacts", "job_dependencies"} <= tables


def test_a_server_database_without_migrations_is_refused_with_the_fix(postgres_url: str) -> None:
    with pytest.raises(ConfigError, match="audiobatch db upgrade"):
        ensure_schema(postgres_url, embedded=False)


def test_a_server_database_out_of_reach_is_refused_in_one_line_without_its_password() -> None:
    with pytest.raises(ConfigError) as refused:
        ensure_schema("postgresql+psycopg://u:secret@127.0.0.1:9/x", embedded=False)
    message = str(refused.value)
    assert message.startswith(
        "cannot reach the database: postgresql+psycopg://u:***@127.0.0.1:9/x:"
    )
    assert "Connection refused" in message
    assert "\n" not in message and "secret" not in message and "sqlalche.me" not in message


def test_the_embedded_database_is_migrated_on_the_fly(sqlite_url: str) -> None:
    ensure_schema(sqlite_url, embedded=True)
    assert "jobs" in inspect(get_engine(sqlite_url)).get_table_names()


def test_a_migration_that_rebuilds_a_table_on_sqlite_keeps_the_rows_referring_to_it(
    sqlite_url: str,
) -> None:
    upgrade(sqlite_url, "0003")  # 0005 rebuilds batches, which jobs refer to (ON DELETE CASCADE)
    with get_engine(sqlite_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (id, name, status, manifest_sha256, source, created_at) "
                "VALUES ('b1', 'old', 'succeeded', 'x', 'old.yaml', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO jobs (batch_id, key, kind, queue, spec, status, attempts, created_at) "
                "VALUES ('b1', 'j1', 'dialogue', 'dialogue', '{}', 'succeeded', 1, "
                "'2026-01-01 00:00:00')"
            )
        )
    upgrade(sqlite_url)
    with get_engine(sqlite_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM jobs")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_attempts_and_outputs_written_before_0008_get_their_job_s_batch(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{backend}_url")
    upgrade(url, "0007")
    at = "'2026-01-01 00:00:00'"
    with get_engine(url).begin() as connection:
        for statement in [
            "INSERT INTO batches (id, name, status, manifest_sha256, source, fresh, created_at) "
            f"VALUES ('b1', 'old', 'succeeded', 'x', 'old.yaml', false, {at})",
            "INSERT INTO jobs (id, batch_id, key, kind, queue, spec, status, attempts, created_at) "
            f"VALUES (7, 'b1', 'j1', 'dialogue', 'dialogue', '{{}}', 'succeeded', 1, {at})",
            "INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome, "
            f"latency_ms, character_cost) VALUES (7, 1, 'w', {at}, {at}, 'succeeded', 1, 60)",
            "INSERT INTO artifacts (job_id, name, key, uri, bytes, sha256, content_type, created_at) "
            f"VALUES (7, 'audio.mp3', 'k', 'file:///k', 100, 'x', 'audio/mpeg', {at})",
        ]:
            connection.execute(text(statement))
    upgrade(url)
    with get_engine(url).connect() as connection:
        for table in ("attempts", "artifacts"):
            assert connection.execute(text(f"SELECT batch_id FROM {table}")).scalar_one() == "b1"
    command.downgrade(alembic_config(url), "0007")
    schema = inspect(get_engine(url))
    for table in ("attempts", "artifacts"):
        assert "batch_id" not in {c["name"] for c in schema.get_columns(table)}
