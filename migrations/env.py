"""Alembic environment: the URL comes from the caller (``audiobatch db upgrade``) or the settings."""

from __future__ import annotations

from alembic import context

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
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
