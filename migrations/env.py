"""Alembic environment: the URL comes from the caller (``audiobatch db upgrade``) or the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection

from audiobatch.config import Settings
from audiobatch.db.models import Base
from audiobatch.db.session import get_engine

config = context.config
url = config.attributes.get("url") or Settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with get_engine(url).connect() as connection, _foreign_keys_off(connection):
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys are not enforced while migrating. A batch migration rebuilds a
    table by copying it and dropping the old one, and with enforcement on, dropping ``batches``
    would first delete every job that refers to it (ON DELETE CASCADE)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection  # outside any transaction: the pragma applies
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
