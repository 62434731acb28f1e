"""``audiobatch prune --older-than AGE``: delete the batches that ended more than AGE ago, with
their rows, stored outputs and upload folders; ``--dry-run`` lists what would go."""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from audiobatch.cli import views
from audiobatch.cli.context import JsonFlag, load_settings, ready_database
from audiobatch.db.models import utcnow
from audiobatch.readable import local_time
from audiobatch.retention import PrunePlan, PruneReport, plan_prune
from audiobatch.retention import prune as prune_plan
from audiobatch.storage import open_storage

AGE = re.compile(r"(?P<amount>\d+)(?P<unit>[dhm])")
UNIT_S = {"d": 86400, "h": 3600, "m": 60}
MAX_AGE_S = 36500 * UNIT_S["d"]  # 100 years: a cutoff far inside what a datetime can hold


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h`` or ``90m`` as a duration; anything else (zero, over 100 years) is
    refused."""
    found = AGE.fullmatch(text.strip())
    age_s = 0 if found is None else int(found["amount"]) * UNIT_S[found["unit"]]
    if not 0 < age_s <= MAX_AGE_S:
        raise typer.BadParameter(
            f"{text!r} is not an age: give a whole number of days, hours or minutes above zero "
            "and up to 36500d (100 years), such as 30d, 12h or 90m"
        )
    return timedelta(seconds=age_s)


def prune(
    older_than: Annotated[
        timedelta,
        typer.Option(
            "--older-than",
            parser=parse_age,
            metavar="AGE",
            help="Delete batches that ended more than AGE ago: 30d, 12h, 90m.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    json_: JsonFlag = False,
) -> int:
    """Delete the batches (succeeded, partial, failed, cancelled) that ended more than AGE ago:
    their rows, stored outputs, results.json and upload folders. Batches queued, running or
    paused are never deleted. Exit 1 when some object or folder could not be removed (the next
    prune tries again)."""
    settings = load_settings()
    url = ready_database(settings)
    storage = open_storage(settings.storage_url)
    plan = plan_prune(url, storage, settings.home / "uploads", utcnow() - older_than)
    report = None if dry_run else prune_plan(url, storage, plan)
    if json_:
        views.print_json(_view(plan, report))
    else:
        _print(Console(), plan, report, settings.zone)
    return 1 if report is not None and report.failed else 0


def _view(plan: PrunePlan, report: PruneReport | None) -> dict[str, Any]:
    pruned = None if report is None else set(report.pruned)
    return {
        "dry_run": report is None,
        "cutoff": plan.cutoff.isoformat(),
        "batches": [
            {
                "id": batch.id,
                "name": batch.name,
                "status": batch.status,
                "ended_at": batch.ended_at.isoformat(),
                "jobs": batch.jobs,
                "outputs": batch.outputs,
                "bytes": batch.output_bytes,
                "objects": plan.objects[batch.id],
                "folders": plan.folders[batch.id],
                "deleted": None if pruned is None else batch.id in pruned,
            }
            for batch in plan.batches
        ],
        "pending": [{"kind": item.kind, "target": item.target} for item in plan.earlier],
        "removed": None if report is None else report.removed,
        "failed": [] if report is None else [{"target": t, "error": e} for t, e in report.failed],
    }


def _print(out: Console, plan: PrunePlan, report: PruneReport | None, zone: tzinfo) -> None:
    verb = "would delete" if report is None else "deleted"
    pruned = None if report is None else set(report.pruned)
    for batch in plan.batches:
        kept = pruned is not None and batch.id not in pruned
        out.print(
            f"{'kept (changed meanwhile)' if kept else verb} {escape(batch.name)} [{batch.id}] "
            f"{batch.status}, ended {local_time(batch.ended_at, zone)}: {batch.jobs} job(s), "
            f"{batch.outputs} output(s), {batch.output_bytes} bytes",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        for target in plan.objects[batch.id] + plan.folders[batch.id]:
            out.print(f"  {escape(target)}", highlight=False, soft_wrap=True)
    for item in plan.earlier:
        out.print(f"left by an earlier prune: {escape(item.target)}", highlight=False)
    for target, why in [] if report is None else report.failed:
        out.print(
            f"[red]not removed[/] {escape(target)}: {escape(why)} (the next prune tries again)",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    count = len(plan.batches) if pruned is None else len(pruned)
    out.print(f"{verb} {count} batch(es) (ended before {local_time(plan.cutoff, zone)})")
