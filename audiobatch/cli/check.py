"""``audiobatch check``: verify the state's invariants and report every breach with its ids."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from audiobatch.cli import views
from audiobatch.cli.context import JsonFlag, load_settings, ready_database
from audiobatch.db.clock import database_now
from audiobatch.db.invariants import artifact_objects, kept_counts, state_breaches
from audiobatch.db.session import session_scope
from audiobatch.storage import open_storage

CLEAN, BREACHED = 0, 1
out = Console()


def check(
    json_: JsonFlag = False,
    objects: Annotated[
        bool,
        typer.Option("--objects", help="Also check that every output is in storage, whole."),
    ] = False,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix", help="Replace the kept counts that differ from a recount with the recount."
        ),
    ] = False,
) -> int:
    """Verify the state's invariants (jobs, leases, dependencies, batches, the kept counts; with
    --objects, the stored outputs); exit 1 when any is broken, listing each breach with the ids
    involved. With --fix, kept counts that drifted are recounted, listed, and no longer count as
    broken."""
    settings = load_settings()
    url = ready_database(settings)
    with session_scope(url) as session:
        breaches = state_breaches(session, database_now(session), settings.lease_s)
    repaired = list(kept_counts(url, fix=True)) if fix else []
    breaches.extend([] if fix else kept_counts(url))
    if objects:
        breaches.extend(artifact_objects(url, open_storage(settings.storage_url)))
    if json_:
        shape = {"breaches": [asdict(b) for b in breaches]}
        views.print_json(shape | {"repaired": [asdict(b) for b in repaired]} if fix else shape)
    else:
        for breach in [*repaired, *breaches]:
            out.print(
                f"{breach.invariant}: {breach.detail}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        out.print(f"{len(breaches)} breach(es)" if breaches else "every invariant holds")
    return BREACHED if breaches else CLEAN
