"""Retention: what each row costs on PostgreSQL, table and indexes together, so a deployment can
tell what a year of history weighs and how much ``audiobatch prune`` gives back.

Fills a fresh database with the dashboard bench's rows (two batches of ``--jobs`` jobs, one
attempt and one output a succeeded job, two attempts a failed one; see ``bench/dashboard.py``),
vacuums it, and prints each table's size over its rows. A dialogue job's row also holds its spec,
whose text (the lines it speaks) adds about its length in bytes: the fill's specs are empty.

    .venv/bin/python bench/row_costs.py [--jobs 100000]
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.db.migrate import upgrade
from audiobatch.db.session import get_engine
from bench.dashboard import fill
from tests import services

TABLES = ("batches", "jobs", "attempts", "artifacts")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    with ExitStack() as stack:
        server = stack.enter_context(contextmanager(services.postgres_server)())
        url = stack.enter_context(contextmanager(services.fresh_postgres_database)(server))
        upgrade(url)
        fill(url, args.jobs)
        with get_engine(url).connect() as connection:
            for table in TABLES:
                rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                size = connection.execute(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table}
                ).scalar_one()
                print(
                    f"{table}: {rows} rows, {size / 2**20:.1f} MiB, {size / rows:.0f} bytes a row"
                )


if __name__ == "__main__":
    main()
