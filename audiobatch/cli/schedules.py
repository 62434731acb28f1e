"""``audiobatch schedule ...``: nightly schedules, fired by ``audiobatch scheduler``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from audiobatch.cli import views
from audiobatch.cli.context import JsonFlag, broker_publisher, load_settings, ready_database
from audiobatch.cli.tables import PlainFlag
from audiobatch.cli.workers import start_hint, warn_without_scheduler, warn_without_workers
from audiobatch.db import schedules
from audiobatch.db.clock import database_clock
from audiobatch.db.models import CatchUpPolicy, FiringOutcome, OverlapPolicy
from audiobatch.db.session import session_scope
from audiobatch.errors import AudiobatchError
from audiobatch.scheduler import editing
from audiobatch.scheduler.editing import ScheduleRequest
from audiobatch.scheduler.firing import fire_now

schedule_app = typer.Typer(
    no_args_is_help=True,
    help="Render a manifest at every slot of a cron expression (`audiobatch scheduler` fires them).",
)
out = Console()

Name = Annotated[str, typer.Argument(help="The schedule's name.")]


@schedule_app.command("add")
def add(
    name: Name,
    cron: Annotated[
        str, typer.Option("--cron", help="Five fields, e.g. '30 2 * * *' (02:30 daily), or @daily.")
    ],
    manifest: Annotated[
        str, typer.Option("--manifest", help="A manifest file, or s3://bucket/key; read at firing.")
    ],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the cron times, e.g. Europe/Berlin.")
    ] = "UTC",
    store: Annotated[
        bool, typer.Option("--store", help="Keep the manifest file's text with the schedule.")
    ] = False,
    overlap: Annotated[
        OverlapPolicy,
        typer.Option("--overlap", help="skip a slot while the previous batch runs, or allow it."),
    ] = OverlapPolicy.SKIP,
    catch_up: Annotated[
        CatchUpPolicy,
        typer.Option("--catch-up", help="After downtime: run the latest missed slot, or skip it."),
    ] = CatchUpPolicy.LATEST,
    budget_chars: Annotated[
        int | None,
        typer.Option("--budget-chars", help="Characters a run may spend before it pauses."),
    ] = None,
) -> None:
    """Add a schedule; it first fires at the next slot after now."""
    settings = load_settings()
    asked = ScheduleRequest(
        name, cron=cron, manifest=manifest, timezone=timezone, store=store, overlap=overlap,
        catch_up=catch_up, character_budget=budget_chars,
    )  # fmt: skip
    url = ready_database(settings)
    new = editing.add_schedule(
        url, asked, database_clock(url)(),
        part_chars=settings.part_chars, sources=settings.source_policy(),
        accounts=settings.account_names(),
    )  # fmt: skip
    first = views.local_time(new.next_slot_at.isoformat(), new.timezone)
    out.print(f"schedule {name}: {new.cron} ({new.timezone}); first run {first}", markup=False)
    warn_without_scheduler(Console(stderr=True), url)


@schedule_app.command("list")
def list_(json_: JsonFlag = False, plain: PlainFlag = False) -> None:
    """Show every schedule: its next run, its last run (with the reason of a skip or a failure)
    and the status of its last batch."""
    settings = load_settings()
    with session_scope(ready_database(settings)) as session:
        rows = [schedules.schedule_view(session, s) for s in schedules.list_schedules(session)]
    views.print_json(rows) if json_ else views.print_schedules(out, rows, plain=plain)


@schedule_app.command("remove")
def remove(name: Name) -> None:
    """Delete a schedule and its firing history; its batches stay."""
    editing.remove_schedule(ready_database(load_settings()), name)
    out.print(f"schedule {name} removed", markup=False)


@schedule_app.command("pause")
def pause(name: Name) -> None:
    """Stop firing a schedule until `schedule resume`."""
    _set_enabled(name, enabled=False)


@schedule_app.command("resume")
def resume(name: Name) -> None:
    """Fire a paused schedule again, from its next slot on (missed slots are not run)."""
    _set_enabled(name, enabled=True)


def _set_enabled(name: str, *, enabled: bool) -> None:
    url = ready_database(load_settings())
    toggled = editing.set_enabled(url, name, enabled, database_clock(url)())
    if enabled:
        when = views.local_time(toggled.next_slot_at.isoformat(), toggled.timezone)
        out.print(f"schedule {name} resumed; next run {when}", markup=False)
    else:
        out.print(f"schedule {name} paused", markup=False)


@schedule_app.command("run")
def run(name: Name, json_: JsonFlag = False) -> None:
    """Fire a schedule now, whatever its slots (its overlap policy still applies)."""
    settings = load_settings()
    url = ready_database(settings)
    fired = fire_now(
        url, broker_publisher(settings), name, database_clock(url)(),
        part_chars=settings.part_chars,
        sources=settings.source_policy(),
        accounts=settings.account_names(),
    )  # fmt: skip
    if json_:
        views.print_json(asdict(fired) | {"slot_at": fired.slot_at.isoformat()})
    if fired.outcome is FiringOutcome.FIRED:
        if not json_:
            out.print(f"schedule {name}: batch {fired.batch_id} submitted", markup=False)
        if fired.batch_id:
            warn_without_workers(Console(stderr=True), url, [fired.batch_id], start_hint(settings))
        return
    raise AudiobatchError(f"schedule {name}: {fired.outcome.value}: {fired.reason}")
