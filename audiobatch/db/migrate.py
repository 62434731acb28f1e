"""Schema migrations: Alembic, driven from code so ``audiobatch db upgrade`` needs no alembic.ini."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from audiobatch.db.session import get_engine
from audiobatch.errors import ConfigError

if TYPE_CHECKING:
    from audiobatch.config import Settings

PACKAGE = Path(__file__).resolve().parents[1]
# installed from a wheel, the migrations are inside the package; in a source tree, beside it
MIGRATIONS_DIRS = (PACKAGE / "migrations", PACKAGE.parent / "migrations")


def migrations_dir() -> Path:
    """The folder of Alembic's ``env.py`` and ``versions/``."""
    for folder in MIGRATIONS_DIRS:
        if (folder / "env.py").is_file():
            return folder
    raise ConfigError(
        f"migrations folder not found at {' or '.join(str(f) for f in MIGRATIONS_DIRS)}: "
        "reinstall audiobatch"
    )


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` pointing at the project's migrations."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the newest by default)."""
    try:
        with _one_migrator(url):
            command.upgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise ConfigError(f"could not migrate {_without_password(url)}: {exc}") from exc


@contextmanager
def _one_migrator(url: str) -> Iterator[None]:
    """Hold a lock beside an SQLite file while migrating it: ``run``'s processes (a worker, a
    scheduler) each migrate the embedded database as they start, and two at once would both
    apply the same step. Other databases are migrated by one explicit step."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield
        return
    database = Path(parsed.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ready_database(settings: Settings) -> str:
    """The database URL, with the schema migrated (embedded SQLite) or checked (servers)."""
    url = settings.resolved_database_url
    ensure_schema(url, embedded=settings.is_embedded_database)
    return url


def ensure_schema(url: str, *, embedded: bool) -> None:
    """Migrate the embedded database on the fly; refuse to run on an unmigrated server database."""
    if embedded:
        upgrade(url)
        return
    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        with get_engine(url).connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        # the driver's words on one line, without SQLAlchemy's wrapping and link
        said = " ".join(str(exc.orig if isinstance(exc, DBAPIError) else exc).split())
        raise ConfigError(f"cannot reach the database: {_without_password(url)}: {said}") from exc
    if current != set(script.get_heads()):
        raise ConfigError(
            "the database schema is not up to date: run `audiobatch db upgrade` first"
        )


def _without_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
