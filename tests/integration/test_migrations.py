"""The migrations produce exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from audiobatch.db.migrate import ensure_schema, upgrade
from audiobatch.db.models import Base
from audiobatch.db.session import get_engine


def test_migrations_produce_exactly_the_models_schema(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert {"batches", "jobs", "attempts", "artifacts", "job_dependencies"} <= tables


def test_a_server_database_without_migrations_is_refused_with_the_fix(postgres_url: str) -> None:
    import pytest

    from audiobatch.errors import ConfigError

    with pytest.raises(ConfigError, match="audiobatch db upgrade"):
        ensure_schema(postgres_url, embedded=False)


def test_the_embedded_database_is_migrated_on_the_fly(sqlite_url: str) -> None:
    ensure_schema(sqlite_url, embedded=True)
    assert "jobs" in inspect(get_engine(sqlite_url)).get_table_names()
