"""Human-readable views of batches and jobs (the ``--json`` shapes are printed as they are)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Console
from rich.markup import escape

from audiobatch import readable
from audiobatch.backend import EMULATOR
from audiobatch.cli.tables import Sheet, show
from audiobatch.db.models import TERMINAL_BATCH_STATUSES, utcnow
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

PLAIN_BATCH_FIELDS = (
    "id", "name", "status", "jobs", "characters", "music_minutes", "tags", "backend", "created"
)  # fmt: skip
PLAIN_JOB_FIELDS = (
    "job", "kind", "status", "parts", "cached", "attempts", "characters", "music_minutes",
    "outputs / error",
)  # fmt: skip


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _styled(status: str) -> str:
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def _backend(backend: str | None, status: str | None = None) -> str:
    """What rendered a batch (of ``status``), the built-in or a standalone emulator standing out."""
    if backend is None:  # an ended batch will have none
        return "none" if status in TERMINAL_BATCH_STATUSES else "none yet"
    return "[bold yellow]emulator[/]" if backend == EMULATOR else escape(backend)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no jobs"


def print_batches(
    console: Console,
    summaries: list[dict[str, Any]],
    zone: tzinfo,
    *,
    plain: bool = False,
    tag: str | None = None,
) -> None:
    """The batches (those carrying ``tag``) as a table; ``plain``: one record each, its status
    and cost in fields of their own (characters and music minutes as numbers)."""
    if not summaries and not plain:
        if tag is not None:
            console.print(f"no batch carries the tag {tag!r}", markup=False, highlight=False)
        else:
            console.print(
                "no batches yet: `audiobatch submit MANIFEST` or `audiobatch run MANIFEST`"
            )
        return
    if plain:
        sheet = Sheet(PLAIN_BATCH_FIELDS)
        for s in summaries:
            sheet.add(
                s["id"],
                escape(s["name"]),
                s["status"],
                _counts(s["counts"]),
                *_plain_cost(s),
                escape(",".join(s["tags"])) or "-",
                escape(s["backend"] or "-"),
                local_time(s["created_at"], zone),
            )
        show(console, sheet, plain=True)
        return
    sheet = Sheet(
        ("id", "name", "status", "jobs", "cost", "backend", "created"), keys=frozenset({"id"})
    )
    for s in summaries:
        sheet.add(
            s["id"],
            escape(" ".join([s["name"], *(f"#{tag}" for tag in s["tags"])])),
            _styled(s["status"]),
            _counts(s["counts"]),
            cost(s),
            _backend(s["backend"], s["status"]),
            local_time(s["created_at"], zone),
        )
    show(console, sheet)


def print_batch(
    console: Console, report: dict[str, Any], zone: tzinfo, *, plain: bool = False
) -> None:
    """A batch and its jobs; ``plain``: only its jobs, as :func:`print_jobs` prints them."""
    shown = [job for job in report["jobs"] if not _done_part(job)]
    if plain:
        print_jobs(console, shown, plain=True)
        return
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
    console.print(f"  backend: {_backend(report['backend'], report['status'])}", highlight=False)
    budget = report.get("character_budget")
    spent = cost(report) + (f" of a {budget:,}-character budget" if budget else "")
    console.print(f"  cost: {spent}", markup=False, highlight=False)
    if report.get("continues_at"):
        continues_at = datetime.fromisoformat(report["continues_at"])
        console.print(
            f"  continues at: {readable.local_time(continues_at, zone)}"
            f" ({readable.relative_time(continues_at, utcnow())}: the account's quota resets)",
            markup=False,
            highlight=False,
        )
    if report.get("deliveries"):
        states = Counter(delivery["state"] for delivery in report["deliveries"])
        told = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        console.print(f"  webhooks: {told} (`--json` lists them)", markup=False, highlight=False)
    # a part that succeeded is counted on its episode's line (`audiobatch jobs` lists them all)
    print_jobs(console, shown)


def print_jobs(
    console: Console,
    jobs: list[dict[str, Any]],
    backend: str | None = None,
    *,
    plain: bool = False,
) -> None:
    """The jobs as a table; with ``backend``, captioned with what rendered their batch.

    ``plain`` prints one record a job with its bare status (``awk -F'\\t' '$3 == "failed"'``
    finds every failed job, episodes included), its parts done and total, whether it reused
    another job's outputs, and its cost as numbers; "-" stands for nothing."""
    if plain:
        sheet = Sheet(PLAIN_JOB_FIELDS)
        for job in jobs:
            parts = job.get("parts")
            sheet.add(
                escape(job["id"]),
                job["kind"],
                job["status"],
                f"{parts['done']}/{parts['total']}" if parts else "-",
                "yes" if job.get("cached") else "no",
                str(job["attempts"]),
                *_plain_cost(job),
                escape(_detail(job)) or "-",
            )
        show(console, sheet, plain=True)
        return
    caption = f"rendered by {_backend(backend)}" if backend else None
    sheet = Sheet(
        ("job", "kind", "status", "attempts", "cost", "outputs / error"),
        keys=frozenset({"job"}),
        caption=caption,
    )
    for job in jobs:
        parts = job.get("parts")
        sheet.add(
            escape(job["id"]),
            job["kind"],
            _styled(job["status"])
            + (" (cached)" if job.get("cached") else "")
            + (f" ({parts['done']}/{parts['total']} parts)" if parts else ""),
            str(job["attempts"]),
            cost(job),
            escape(_detail(job)),
        )
    show(console, sheet)


def _detail(job: dict[str, Any]) -> str:
    """A job's error, or else the names of its outputs."""
    return str(job["error"] or ", ".join(o["name"] for o in job["outputs"]))


def _plain_cost(row: dict[str, Any]) -> tuple[str, str]:
    """A job's or batch's characters and music minutes, as numbers for ``--plain``."""
    return str(row["characters"]), str(row["music_minutes"] or 0)


def cost(row: dict[str, Any]) -> str:
    """A job's or batch's characters, and its music minutes when it composed any."""
    text = f"{row['characters']:,} chars"
    return text + (f", {row['music_minutes']} min music" if row["music_minutes"] else "")


def print_estimate(console: Console, estimate: dict[str, Any], zone: tzinfo) -> None:
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
    reset = account["next_reset"]
    console.print(
        f"account: {account['used']:,} of {account['limit']:,} used, {account['remaining']:,} left"
        f" (resets {local_time(reset, zone) if reset else 'at an unknown time'}); "
        f"{estimate['credits']:,} credits needed: {verdict}",
        highlight=False,
    )


def print_outcome(console: Console, report: dict[str, Any], zone: tzinfo) -> None:
    """What ``run`` prints at the end: the outcome and where every output is."""
    print_batch(console, report, zone)
    uris = [o["uri"] for job in report["jobs"] if not job.get("part_of") for o in job["outputs"]]
    if uris:
        console.print("outputs:")
        for uri in uris:
            console.print(f"  {uri}", markup=False, highlight=False, soft_wrap=True)


def _done_part(job: dict[str, Any]) -> bool:
    return bool(job.get("part_of")) and job["status"] == "succeeded"


def print_limiter(console: Console, state: dict[str, Any], *, plain: bool = False) -> None:
    if not plain:
        console.print(f"limiter: {state['scope']} (API key {state['key_hash'] or 'not set'})")
    sheet = Sheet(("pool", "in use", "window", "ceiling", "configured"))
    for pool in state["pools"]:
        sheet.add(
            pool["pool"],
            str(pool["in_use"]),
            f"{pool['limit']:.2f}",
            str(pool["ceiling"]),
            str(pool["size"]),
        )
    show(console, sheet, plain=plain)


def print_submitted(console: Console, batch: SubmittedBatch) -> None:
    what = f"batch {batch.name} [{batch.id}]: {batch.jobs} jobs"
    if batch.existing:
        line = f"{what}, of this very manifest, has not finished: not submitted again (--force)"
    else:
        line = f"submitted {what}"
    console.print(line, markup=False, soft_wrap=True)


def local_time(iso: str, zone: str | tzinfo) -> str:
    """An ISO instant as the wall time of ``zone`` (a tzinfo, or an IANA name):
    ``2026-03-29 03:00 CEST``."""
    found = parse_zone(zone) if isinstance(zone, str) else zone
    return readable.local_time(datetime.fromisoformat(iso), found)


def print_schedules(console: Console, rows: list[dict[str, Any]], *, plain: bool = False) -> None:
    if not rows and not plain:
        console.print(
            "no schedules yet: `audiobatch schedule add NAME --cron EXPR --manifest FILE`"
        )
        return
    sheet = Sheet(
        ("schedule", "cron", "next run", "last run", "last batch", "policies"),
        keys=frozenset({"schedule"}),
    )
    for row in rows:
        zone = row["timezone"]
        last, batch = row["last_run"], row["last_batch"]
        last_text = "never"
        if last is not None:
            last_text = f"{local_time(last['slot'], zone)} {_styled(last['outcome'])}"
            if last["reason"]:
                last_text += f"\n{escape(last['reason'])}"
        budget = row["character_budget"]
        sheet.add(
            escape(row["name"]),
            f"{escape(row['cron'])}\n{zone}",
            local_time(row["next_run"], zone) if row["next_run"] else "[magenta]paused[/]",
            last_text,
            f"{escape(batch['name'])} {_styled(batch['status'])}" if batch else "none",
            f"overlap {row['overlap']}, catch-up {row['catch_up']}"
            + (f", budget {budget} chars" if budget else ""),
        )
    show(console, sheet, plain=plain)
