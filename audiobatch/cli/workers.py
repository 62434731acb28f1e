"""``audiobatch workers``: the worker and scheduler processes, as their heartbeats describe them,
and the warning the queueing commands give when no live worker would take their jobs."""

from __future__ import annotations

import enum
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from audiobatch.cli import views
from audiobatch.cli.context import JsonFlag, load_settings, ready_database
from audiobatch.cli.tables import PlainFlag, Sheet, show
from audiobatch.config import Settings
from audiobatch.db.clock import database_now
from audiobatch.db.session import session_scope
from audiobatch.db.workers import (
    HEARTBEAT_INTERVAL_S,
    SCHEDULER,
    WORKER,
    ago,
    fleet_view,
    scheduler_live,
    unserved_queues,
)

START_WORKER = "start one with `audiobatch worker`"
START_SCHEDULER = "start one with `audiobatch scheduler` (and a worker: `audiobatch worker`)"
STATES = {"live": "[green]live[/]", "stopped": "[dim]stopped[/]", "gone": "[red]gone[/]"}


AllFlag = Annotated[
    bool, typer.Option("--all", help="Also list the processes that stopped or went silent.")
]


HereFlag = Annotated[
    bool,
    typer.Option(
        "--here",
        help="Only this host's processes; exit 1 when none is live (a container's healthcheck).",
    ),
]


class Role(enum.StrEnum):
    WORKER = WORKER
    SCHEDULER = SCHEDULER


RoleOption = Annotated[Role | None, typer.Option("--role", help="Only this role.")]


def workers(
    json_: JsonFlag = False,
    all_: AllFlag = False,
    here: HereFlag = False,
    role: RoleOption = None,
    plain: PlainFlag = False,
) -> int:
    """List the live worker and scheduler processes (with --all, those gone too, after the
    live): queues, jobs in hand, last heartbeat."""
    settings = load_settings()
    with session_scope(ready_database(settings)) as session:
        now = database_now(session)
        rows = fleet_view(session, now)
    host = socket.gethostname()
    rows = [
        row
        for row in rows
        if (all_ or row["live"])
        and (not here or row["host"] == host)
        and (role is None or row["role"] == role)
    ]
    if json_:
        views.print_json(rows)
    else:
        print_workers(Console(), rows, now, plain=plain)
    if here and not any(row["live"] for row in rows):
        Console(stderr=True).print(
            f"no live {role or 'process'} on this host ({host}) sent a heartbeat lately",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        return 1
    return 0


def print_workers(
    console: Console, rows: list[dict[str, Any]], now: datetime, *, plain: bool = False
) -> None:
    """The ``workers`` table, readable at 80 columns."""
    if not rows and not plain:
        console.print(f"no live worker: {START_WORKER} (`--all` lists those gone)", markup=False)
        return
    # the identity is kept whole: it is what tells two processes apart
    sheet = Sheet(
        ("process", "role", "queues", "jobs in hand", "seen"), keys=frozenset({"process"})
    )
    for row in rows:
        seen_s = (now - datetime.fromisoformat(row["last_seen_at"])).total_seconds()
        jobs = row["jobs_in_hand"]
        sheet.add(
            row["id"],
            f"{row['role']}\nv{row['version']}",
            ", ".join(row["queues"]) or "-",
            _in_hand(jobs, row["concurrency"]) if row["role"] == WORKER else "-",
            f"{STATES[row['state']]}\n{ago(seen_s)}",
        )
    show(console, sheet, plain=plain)


def _in_hand(jobs: list[int], concurrency: int) -> str:
    return f"{len(jobs)} of {concurrency}" + (f"\n{', '.join(map(str, jobs))}" if jobs else "")


def start_hint(settings: Settings) -> str:
    """What brings a worker in this deployment."""
    if settings.broker_url is None:  # embedded: `run` starts its own worker
        return f"{START_WORKER} (or use `audiobatch run`, which starts its own)"
    return START_WORKER


def warn_without_workers(
    console: Console, database_url: str, batch_ids: Sequence[str], hint: str = START_WORKER
) -> bool:
    """Warn (on ``console``) when jobs of ``batch_ids`` wait on queues no live worker serves;
    whether it warned."""
    with session_scope(database_url) as session:
        missing = unserved_queues(session, batch_ids, database_now(session))
    if missing:
        console.print(
            f"warning: no live worker serves the queue(s) {', '.join(missing)} these jobs wait "
            f"on, so nothing renders them: {hint}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return bool(missing)


def warn_without_scheduler(console: Console, database_url: str) -> None:
    """Warn (on ``console``) when no live scheduler would fire the schedules."""
    with session_scope(database_url) as session:
        live = scheduler_live(session, database_now(session))
    if not live:
        console.print(
            f"warning: no live scheduler, so no schedule fires: {START_SCHEDULER}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


def worker_watch(
    console: Console,
    database_url: str,
    batch_ids: Sequence[str],
    *,
    hint: str = START_WORKER,
    first_after_s: float = 0.0,
) -> Callable[[], None]:
    """A poll hook for a wait: :func:`warn_without_workers` after ``first_after_s``, then every
    heartbeat interval, warning again only once the workers were back meanwhile."""
    next_at = time.monotonic() + first_after_s
    warned = False

    def watch() -> None:
        nonlocal next_at, warned
        if time.monotonic() < next_at:
            return
        next_at = time.monotonic() + HEARTBEAT_INTERVAL_S
        if warned:  # said once: only whether the workers are back matters now
            with session_scope(database_url) as session:
                warned = bool(unserved_queues(session, batch_ids, database_now(session)))
        else:
            warned = warn_without_workers(console, database_url, batch_ids, hint)

    return watch
