"""kept tallies: per-batch counts and sums kept by triggers as rows change, read without a scan

Every insert, update and delete of ``jobs``, ``attempts`` and ``artifacts`` appends what it
changed to ``tallies`` (batch, name, delta) in the same transaction: jobs by status, the music
composed, attempts by outcome, 429s, characters, latency (sum and histogram bucket), outputs and
their bytes. ``jobs.music_ms`` holds the music a job composes (known at submission). See
:mod:`audiobatch.db.tallies`. And an index of a batch's episode parts, so that a large running
batch's progress reads its parts only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audiobatch.manifest.costs import music_ms

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LATENCY_BOUNDS_MS = (100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
_LATENCY_BUCKET = (
    "CASE "
    + " ".join(f"WHEN {{r}}.latency_ms <= {b} THEN '{b}'" for b in LATENCY_BOUNDS_MS)
    + " ELSE 'inf' END"
)

TALLIED: dict[str, list[tuple[str, str]]] = {
    "jobs": [
        ("'jobs:' || {r}.status", "1"),
        (
            "'music_ms'",
            "CASE WHEN {r}.status = 'succeeded' AND {r}.cached_from IS NULL "
            "THEN coalesce({r}.music_ms, 0) ELSE 0 END",
        ),
    ],
    "attempts": [
        ("'attempts:' || {r}.outcome", "1"),
        ("'throttled'", "CASE WHEN {r}.http_status = 429 THEN 1 ELSE 0 END"),
        ("'characters'", "coalesce({r}.character_cost, 0)"),
        ("'latency_ms'", "{r}.latency_ms"),
        ("'latency_le:' || " + _LATENCY_BUCKET, "1"),
    ],
    "artifacts": [("'outputs'", "1"), ("'output_bytes'", "{r}.bytes")],
}
"""What each table's rows add to their batch's tallies: (name, value) as SQL over a row ``{r}``."""

# the columns whose change can change a tally (SQLite's update triggers name them)
TALLIED_COLUMNS = {
    "jobs": "batch_id, status, cached_from, music_ms",
    "attempts": "batch_id, outcome, http_status, character_cost, latency_ms",
    "artifacts": "batch_id, bytes",
}


def _rows(table: str, ref: str, sign: str, source: str) -> list[str]:
    """One SELECT of (batch_id, name, value) per tallied figure of the rows ``ref`` names."""
    return [
        f"SELECT {ref}.batch_id AS batch_id, {name.format(r=ref)} AS name, "
        f"{sign}({value.format(r=ref)}) AS value{source}"
        for name, value in TALLIED[table]
    ]


def _append(rows: list[str], folded: str = "false") -> str:
    """The statement adding ``rows``, summed by batch and name, to the tallies."""
    return (
        "INSERT INTO tallies (batch_id, name, value, folded) "
        f"SELECT batch_id, name, sum(value), {folded} FROM ({' UNION ALL '.join(rows)}) AS d "
        "GROUP BY batch_id, name HAVING sum(value) <> 0"
    )


def _postgresql_triggers(table: str) -> list[str]:
    """Statement-level triggers over the transition tables: one append per statement."""
    added = _rows(table, "r", "", " FROM new_rows AS r")
    removed = _rows(table, "r", "-", " FROM old_rows AS r")
    body = (
        f"IF TG_OP = 'INSERT' THEN {_append(added)}; "
        f"ELSIF TG_OP = 'DELETE' THEN {_append(removed)}; "
        f"ELSE {_append(added + removed)}; END IF; RETURN NULL;"
    )
    statements = [
        f"CREATE FUNCTION tally_{table}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body} END $$"
    ]
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        statements.append(
            f"CREATE TRIGGER tally_{table}_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION tally_{table}()"
        )
    return statements


def _sqlite_triggers(table: str) -> list[str]:
    """Row-level triggers (SQLite has no other kind; it runs one writer at a time)."""
    added, removed = _rows(table, "NEW", "", ""), _rows(table, "OLD", "-", "")
    return [
        f"CREATE TRIGGER tally_{table}_insert AFTER INSERT ON {table} "
        f"BEGIN {_append(added)}; END",
        f"CREATE TRIGGER tally_{table}_update AFTER UPDATE OF {TALLIED_COLUMNS[table]} "
        f"ON {table} BEGIN {_append(added + removed)}; END",
        f"CREATE TRIGGER tally_{table}_delete AFTER DELETE ON {table} "
        f"BEGIN {_append(removed)}; END",
    ]


def upgrade() -> None:
    op.add_column("jobs", sa.Column("music_ms", sa.Integer(), nullable=True))
    connection = op.get_bind()
    specs = sa.text("SELECT id, spec FROM jobs WHERE kind = 'music'").columns(spec=sa.JSON())
    music = connection.execute(specs).all()
    lengths = [{"id": id_, "ms": music_ms("music", spec)} for id_, spec in music]
    lengths = [row for row in lengths if row["ms"]]
    if lengths:
        connection.execute(sa.text("UPDATE jobs SET music_ms = :ms WHERE id = :id"), lengths)

    op.create_table(
        "tallies",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("folded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tallies")),
    )
    op.create_index(
        "ix_tallies_batch_id_name",
        "tallies",
        ["batch_id", "name"],
        postgresql_include=["value"],
    )
    unfolded = sa.text("NOT folded")
    op.create_index(
        "ix_tallies_unfolded",
        "tallies",
        ["batch_id"],
        postgresql_where=unfolded,
        sqlite_where=unfolded,
    )
    parts = sa.text("part_of IS NOT NULL")
    op.create_index(
        "ix_jobs_batch_id_parts",
        "jobs",
        ["batch_id", "part_of"],
        postgresql_where=parts,
        sqlite_where=parts,
    )
    sqlite = connection.dialect.name == "sqlite"
    for table in TALLIED:
        op.execute(_append(_rows(table, "r", "", f" FROM {table} AS r"), folded="true"))
        for statement in _sqlite_triggers(table) if sqlite else _postgresql_triggers(table):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TALLIED:
        for event in ("insert", "update", "delete"):
            op.execute(
                f"DROP TRIGGER tally_{table}_{event}"
                if sqlite
                else f"DROP TRIGGER tally_{table}_{event} ON {table}"
            )
        if not sqlite:
            op.execute(f"DROP FUNCTION tally_{table}()")
    op.drop_index("ix_jobs_batch_id_parts", table_name="jobs")
    op.drop_index("ix_tallies_unfolded", table_name="tallies")
    op.drop_index("ix_tallies_batch_id_name", table_name="tallies")
    op.drop_table("tallies")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("music_ms")
