"""Human-readable views of batches and jobs (the ``--json`` shapes are printed as they are)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from audiobatch.backend import EMULATOR
from audiobatch.db.submit import SubmittedBatch
from audiobatch.scheduler.cron import parse_zone

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "red",
    "partial": "yellow",
    "retrying": "yellow",
    "running": "cyan",
    "paused": "magenta",
    "cancelled": "dim",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _styled(status: str) -> str:
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def _backend(backend: str | None) -> str:
    """What rendered a batch, the built-in or a standalone emulator standing out."""
    if backend is None:
        return "none yet"
    return "[bold yellow]emulator[/]" if backend == EMULATOR else escape(backend)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no jobs"


def print_batches(console: Console, summaries: list[dict[str, Any]]) -> None:
    if not summaries:
        console.print("no batches yet: `audiobatch submit MANIFEST` or `audiobatch run MANIFEST`")
        return
    table = Table(
        "id", "name", "status", "jobs", "cost", Column("backend", overflow="fold"), "created"
    )
    for s in summaries:
        table.add_row(
            s["id"],
            " ".join([s["name"], *(f"#{tag}" for tag in s["tags"])]),
            _styled(s["status"]),
            _counts(s["counts"]),
            cost(s),
            _backend(s["backend"]),
            s["created_at"][:19],
        )
    console.print(table)


def print_batch(console: Console, report: dict[str, Any]) -> None:
    console.print(
        f"batch [bold]{escape(report['name'])}[/] \\[{report['id']}]: {_styled(report['status'])}"
        f" ({_counts(report['counts'])})",
        highlight=False,
    )
    if report.get("reason"):
        console.print(f"  reason: {report['reason']}", markup=False, highlight=False)
    if report.get("schedule"):
        console.print(f"  schedule: {report['schedule']}", markup=False, highlight=False)
    if report.get("tags"):
        console.print(f"  tags: {', '.join(report['tags'])}", markup=False, highlight=False)
    console.print(f"  backend: {_backend(report['backend'])}", highlight=False)
    budget = report.get("character_budget")
    spent = cost(report) + (f" of a {budget:,}-character budget" if budget else "")
    console.print(f"  cost: {spent}", markup=False, highlight=False)
    if report.get("continues_at"):
        console.print(
            f"  continues at: {report['continues_at']} (the account's quota resets)",
            markup=False,
            highlight=False,
        )
    # a part that succeeded is counted on its episode's line (`audiobatch jobs` lists them all)
    print_jobs(console, [job for job in report["jobs"] if not _done_part(job)])


def print_jobs(console: Console, jobs: list[dict[str, Any]], backend: str | None = None) -> None:
    """The jobs as a table; with ``backend``, captioned with what rendered their batch."""
    caption = f"rendered by {_backend(backend)}" if backend else None
    table = Table("job", "kind", "status", "attempts", "cost", "outputs / error", caption=caption)
    for job in jobs:
        detail = job["error"] or ", ".join(o["name"] for o in job["outputs"])
        parts = job.get("parts")
        table.add_row(
            escape(job["id"]),
            job["kind"],
            _styled(job["status"])
            + (" (cached)" if job.get("cached") else "")
            + (f" ({parts['done']}/{parts['total']} parts)" if parts else ""),
            str(job["attempts"]),
            cost(job),
            escape(detail),
        )
    console.print(table)


def cost(row: dict[str, Any]) -> str:
    """A job's or batch's characters, and its music minutes when it composed any."""
    text = f"{row['characters']:,} chars"
    return text + (f", {row['music_minutes']} min music" if row["music_minutes"] else "")


def print_estimate(console: Console, estimate: dict[str, Any]) -> None:
    """``estimate`` (and ``validate``): each manifest's cost, the sum, and the account's answer."""
    for b in estimate["batches"]:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in b["characters_by_kind"].items())
        line = f"{b['batch']}: {b['characters']:,} characters" + (f" ({kinds})" if kinds else "")
        if b["music_minutes"]:
            line += f", {b['music_minutes']} min music"
        line += f": about {b['credits']:,} credits"
        if b["music_jobs_of_unknown_length"]:
            line += f"; {b['music_jobs_of_unknown_length']} music job(s) of a length the API picks"
        if b["jobs_priced_by_source"]:
            line += f"; {b['jobs_priced_by_source']} job(s) billed by their source's length"
        console.print(line, markup=False, highlight=False)
        for episode, parts in b["parts"].items():
            console.print(f"  {episode}: {parts} parts", markup=False, highlight=False)
    account = estimate["account"]
    if not account["checked"]:
        console.print(f"account not checked: {account['reason']}", markup=False, highlight=False)
        return
    verdict = "fits" if account["fits"] else "[red]does not fit[/]"
    console.print(
        f"account: {account['used']:,} of {account['limit']:,} used, {account['remaining']:,} left"
        f" (resets {account['next_reset'] or 'at an unknown time'}); "
        f"{estimate['credits']:,} credits needed: {verdict}",
        highlight=False,
    )


def print_outcome(console: Console, report: dict[str, Any]) -> None:
    """What ``run`` prints at the end: the outcome and where every output is."""
    print_batch(console, report)
    uris = [o["uri"] for job in report["jobs"] if not job.get("part_of") for o in job["outputs"]]
    if uris:
        console.print("outputs:")
        for uri in uris:
            console.print(f"  {uri}", markup=False, highlight=False, soft_wrap=True)


def _done_part(job: dict[str, Any]) -> bool:
    return bool(job.get("part_of")) and job["status"] == "succeeded"


def print_limiter(console: Console, state: dict[str, Any]) -> None:
    console.print(f"limiter: {state['scope']} (API key {state['key_hash'] or 'not set'})")
    table = Table("pool", "in use", "window", "ceiling", "configured")
    for pool in state["pools"]:
        table.add_row(
            pool["pool"],
            str(pool["in_use"]),
            f"{pool['limit']:.2f}",
            str(pool["ceiling"]),
            str(pool["size"]),
        )
    console.print(table)


def print_submitted(console: Console, batch: SubmittedBatch) -> None:
    what = f"batch {batch.name} [{batch.id}]: {batch.jobs} jobs"
    if batch.existing:
        line = f"{what}, of this very manifest, has not finished: not submitted again (--force)"
    else:
        line = f"submitted {what}"
    console.print(line, markup=False, soft_wrap=True)


def local_time(iso: str, timezone: str) -> str:
    """An ISO instant as the wall time of ``timezone``: ``2026-03-29 03:00 CEST``."""
    return (
        datetime.fromisoformat(iso).astimezone(parse_zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")
    )


def print_schedules(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(
            "no schedules yet: `audiobatch schedule add NAME --cron EXPR --manifest FILE`"
        )
        return
    table = Table("schedule", "cron", "next run", "last run", "last batch", "policies")
    for row in rows:
        zone = row["timezone"]
        last, batch = row["last_run"], row["last_batch"]
        last_text = "never"
        if last is not None:
            last_text = f"{local_time(last['slot'], zone)} {_styled(last['outcome'])}"
            if last["reason"]:
                last_text += f"\n{escape(last['reason'])}"
        budget = row["character_budget"]
        table.add_row(
            escape(row["name"]),
            f"{escape(row['cron'])}\n{zone}",
            local_time(row["next_run"], zone) if row["next_run"] else "[magenta]paused[/]",
            last_text,
            f"{escape(batch['name'])} {_styled(batch['status'])}" if batch else "none",
            f"overlap {row['overlap']}, catch-up {row['catch_up']}"
            + (f", budget {budget} chars" if budget else ""),
        )
    console.print(table)
