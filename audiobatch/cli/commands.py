"""The ``audiobatch`` commands (design §6). Every reading command takes ``--json``.

What only some commands need (the worker's rendering stack, Celery, the emulator) is imported in
those commands, so that every command starts quickly.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from audiobatch import control
from audiobatch.accounts import DEFAULT_ACCOUNT, with_account
from audiobatch.cli import views
from audiobatch.cli.context import (
    JsonFlag,
    ManifestPaths,
    SetOption,
    VoicesOption,
    broker_app,
    broker_publisher,
    load_settings,
    read_manifests,
    ready_database,
)
from audiobatch.cli.embedded import embedded_services
from audiobatch.cli.estimate import (
    AllowOverFlag,
    BudgetOption,
    ContinueAtResetFlag,
    estimate,
    estimate_files,
    preflight,
    spending,
)
from audiobatch.cli.outcomes import SUCCESS, exit_code, interrupted_notice, print_paused
from audiobatch.cli.progress import ticker, wait_for_batches
from audiobatch.cli.schedules import schedule_app
from audiobatch.cli.tables import PlainFlag
from audiobatch.cli.verify import verify
from audiobatch.cli.workers import start_hint, warn_without_workers, worker_watch
from audiobatch.db import migrate
from audiobatch.db.listings import batch_summaries
from audiobatch.db.models import JobStatus
from audiobatch.db.reports import (
    batch_report,
    find_batch,
    jobs_report,
    list_batches,
    list_jobs,
    results_body,
    results_key,
)
from audiobatch.db.session import session_scope
from audiobatch.db.webhooks import deliveries_of
from audiobatch.db.workers import LIVE_WITHIN_S
from audiobatch.emulator.fault_names import FAULTS
from audiobatch.emulator.state import QUOTA_PERIOD_S
from audiobatch.errors import ManifestError
from audiobatch.manifest.tags import with_tags
from audiobatch.priorities import with_priority
from audiobatch.render.families import QUEUES
from audiobatch.storage import open_storage
from audiobatch.submission import submit_manifests

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Render audio in bulk.",
    rich_markup_mode="markdown",
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")
app.add_typer(schedule_app, name="schedule")
app.command()(verify)
app.command()(estimate)

out = Console()
err = Console(stderr=True)

FreshFlag = Annotated[
    bool,
    typer.Option(
        "--fresh", help="Generate every job anew, even one whose identical request succeeded."
    ),
]

ForceFlag = Annotated[
    bool,
    typer.Option("--force", help="A new batch even when this manifest's batch is still active."),
]

RESULTS = "results.json"
PriorityOption = Annotated[
    str | None,
    typer.Option(
        "--priority",
        help="urgent, normal, bulk or 0-100, higher first (instead of the manifest's).",
    ),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="Render with this registered account's API key (instead of the manifest's).",
    ),
]
TagOption = Annotated[
    list[str],
    typer.Option("--tag", help="Put this tag on the batches too (repeatable)."),
]

RUN_AGAIN = "run the same `audiobatch run` command again"
LOCAL_WORKER_DOWN = "the local worker this command started is not running; see its log"


@app.command()
def validate(
    manifests: ManifestPaths,
    json_: JsonFlag = False,
    voices: VoicesOption = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: SetOption = [],  # noqa: B006
) -> None:
    """Check manifests without writing anything; every problem is reported with file and line
    (many of one kind on one line; with --json, every one)."""
    settings = load_settings()
    try:
        found = estimate_files(manifests, voices, set_, settings)
    except ManifestError as exc:
        if json_:
            views.print_json({"valid": False, "problems": [asdict(p) for p in exc.problems]})
        raise
    summary: list[dict[str, Any]] = [
        {"batch": b.batch, "source": b.source, "jobs": b.jobs, "episodes": b.parts}
        for b in found.batches
    ]
    if json_:
        views.print_json({"valid": True, "batches": summary, "estimate": found.as_json()})
        return
    for item in summary:
        parts = item["episodes"]
        cut = f" ({len(parts)} rendered in {sum(parts.values())} parts)" if parts else ""
        out.print(
            f"{item['source']}: valid, batch {item['batch']!r}, {item['jobs']} jobs{cut}",
            markup=False,
        )
    views.print_estimate(out, found.as_json(), settings.zone)


@app.command()
def submit(
    manifests: ManifestPaths,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait until the batches end or pause (exit 3 when paused)."),
    ] = False,
    json_: JsonFlag = False,
    voices: VoicesOption = [],  # noqa: B006
    set_: SetOption = [],  # noqa: B006
    fresh: FreshFlag = False,
    force: ForceFlag = False,
    budget: BudgetOption = None,
    allow_over: AllowOverFlag = False,
    continue_at_reset: ContinueAtResetFlag = None,
    tags: TagOption = [],  # noqa: B006
    priority: PriorityOption = None,
    account: AccountOption = None,
) -> int:
    """Validate manifests and queue them as batches for the workers (refused when they need
    more than the account has left, unless --allow-over)."""
    from audiobatch.broker import publisher

    settings = load_settings()
    known = settings.account_names()
    loaded = [
        with_account(with_priority(with_tags(m, tags), priority), account, known)
        for m in read_manifests(manifests, voices, set_, settings)
    ]
    asked = spending(budget, continue_at_reset)
    preflight(loaded, settings, err, allow_over=allow_over)
    url = ready_database(settings)
    celery_app = broker_app(settings)
    batches = submit_manifests(
        url, loaded, publisher(celery_app), fresh=fresh, force=force, spending=asked
    )
    if not json_:
        for batch in batches:
            views.print_submitted(out, batch)
    batch_ids = [b.id for b in batches]
    if not wait:
        if json_:
            views.print_json([asdict(b) for b in batches])
        warn_without_workers(err, url, batch_ids, start_hint(settings))
        return SUCCESS
    on_poll = [worker_watch(err, url, batch_ids, hint=start_hint(settings))]
    if settings.broker_url is None:  # embedded: no scheduler process runs the tick
        from audiobatch.deployment import build_reconciler

        on_poll.append(ticker(1.0, build_reconciler(settings, celery_app)))
    console = err if json_ else out
    after = "waiting stops here; the workers go on rendering what is left"
    final = wait_for_batches(
        url, batch_ids, console, on_poll=on_poll, on_interrupt=interrupted_notice(console, after)
    )
    if json_:
        with session_scope(url) as session:
            views.print_json([batch_report(session, find_batch(session, b.id)) for b in batches])
    print_paused(console, final.values())
    return exit_code(final.values())


@app.command()
def run(
    manifests: ManifestPaths,
    json_: JsonFlag = False,
    voices: VoicesOption = [],  # noqa: B006
    set_: SetOption = [],  # noqa: B006
    fresh: FreshFlag = False,
    force: ForceFlag = False,
    budget: BudgetOption = None,
    allow_over: AllowOverFlag = False,
    continue_at_reset: ContinueAtResetFlag = None,
    priority: PriorityOption = None,
    account: AccountOption = None,
) -> int:
    """Submit, render with a local worker (and the emulator when no API key is set), and wait;
    a batch that needs more than the account has left is refused unless --allow-over."""
    from audiobatch.broker import publisher

    settings = load_settings()
    # invalid input stops here, before anything starts or is written
    known = settings.account_names()
    loaded = [
        with_account(with_priority(m, priority), account, known)
        for m in read_manifests(manifests, voices, set_, settings)
    ]
    open_storage(settings.storage_url)  # one the local worker cannot use is refused here
    url = ready_database(settings)
    console = err if json_ else out
    asked = spending(budget, continue_at_reset)
    preflight(loaded, settings, err, allow_over=allow_over)
    with embedded_services(settings, console) as (live, worker_running):
        celery_app = broker_app(live)
        batches = submit_manifests(
            url, loaded, publisher(celery_app), fresh=fresh, force=force, spending=asked
        )
        for batch in batches:
            if batch.existing:
                views.print_submitted(console, batch)
        batch_ids = [b.id for b in batches]
        on_poll = [
            worker_running,  # a local worker that stopped ends the wait, saying so
            # the local worker announces itself once it consumes: a while after it starts
            worker_watch(err, url, batch_ids, hint=LOCAL_WORKER_DOWN, first_after_s=LIVE_WITHIN_S),
        ]
        if live.broker_url is not None:  # on the embedded broker, the local worker ticks itself
            from audiobatch.deployment import build_reconciler

            on_poll.append(ticker(1.0, build_reconciler(live, celery_app)))
        after = (
            "the local worker stops now (the jobs it was rendering go back to the queue); "
            f"to go on, {RUN_AGAIN} (a paused batch first needs `audiobatch resume BATCH`)"
        )
        final = wait_for_batches(
            url, batch_ids, console, on_poll=on_poll,
            on_interrupt=interrupted_notice(console, after),
        )  # fmt: skip
        # the outcome is printed before the local worker stops, which takes a few seconds
        with session_scope(url) as session:
            reports = [batch_report(session, find_batch(session, b.id)) for b in batches]
        if json_:
            views.print_json(reports)
        else:
            for report in reports:
                views.print_outcome(out, report, settings.zone)
        print_paused(console, final.values(), then=f", then {RUN_AGAIN} to render it here")
        # the local worker, whose thread sends webhooks, stops with the run: one last pass sends
        # what its batches' ends and pauses are due (a receiver that fails gets it next run)
        from audiobatch.deployment import build_webhook_sender

        build_webhook_sender(live)()
    return exit_code(final.values())


@app.command()
def status(
    batch: Annotated[str | None, typer.Argument(help="Batch id, id prefix or name.")] = None,
    json_: JsonFlag = False,
    plain: PlainFlag = False,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only the latest batches carrying this tag.")
    ] = None,
) -> None:
    """Show one batch with its jobs (with --plain, its jobs' lines), or the latest batches
    (those carrying a tag)."""
    if batch is not None and tag is not None:
        raise typer.BadParameter(
            "filters the latest batches: give no BATCH with it", param_hint="--tag"
        )
    settings = load_settings()
    with session_scope(ready_database(settings)) as session:
        if batch is None:
            summaries = batch_summaries(session, list_batches(session, tag=tag))
            if json_:
                views.print_json(summaries)
            else:
                views.print_batches(out, summaries, settings.zone, plain=plain, tag=tag)
            return
        found = find_batch(session, batch)
        report = {**batch_report(session, found), "deliveries": deliveries_of(session, found.id)}
    if json_:
        views.print_json(report)
    else:
        views.print_batch(out, report, settings.zone, plain=plain)


@app.command()
def jobs(
    batch: Annotated[str, typer.Argument(help="Batch id, id prefix or name.")],
    status: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs in this state.")
    ] = None,
    json_: JsonFlag = False,
    plain: PlainFlag = False,
) -> None:
    """List a batch's jobs."""
    settings = load_settings()
    with session_scope(ready_database(settings)) as session:
        found = find_batch(session, batch)
        rows = jobs_report(session, found, status)
    views.print_json(rows) if json_ else views.print_jobs(out, rows, found.backend, plain=plain)


@app.command()
def limiter(
    json_: JsonFlag = False,
    plain: PlainFlag = False,
    account: Annotated[
        str, typer.Option("--account", help="The registered account whose limiter to show.")
    ] = DEFAULT_ACCOUNT,
) -> None:
    """Show an account's concurrency limiter: slots in use and the adaptive window, per pool."""
    from audiobatch.deployment import limiter_view

    state = limiter_view(load_settings(), account)
    views.print_json(state) if json_ else views.print_limiter(out, state, plain=plain)


@app.command()
def accounts(json_: JsonFlag = False) -> None:
    """List the registered accounts: each name and its key's hash (never the key)."""
    listed = load_settings().account_registry().listed()
    if json_:
        views.print_json(listed)
        return
    for account in listed:
        out.print(f"{account['name']}  {account['key_hash']}", markup=False)
    if not listed:
        out.print("no account: set ELEVENLABS_API_KEY (default) or AUDIOBATCH_ACCOUNTS_FILE")


@app.command()
def download(
    batch: Annotated[str, typer.Argument(help="Batch id, id prefix or name.")],
    dest: Annotated[Path, typer.Argument(file_okay=False, help="Folder to copy the outputs into.")],
    final_only: Annotated[
        bool,
        typer.Option(
            "--final-only",
            help="Leave out the parts of stitched episodes; include the batch's results.json.",
        ),
    ] = False,
) -> None:
    """Copy a batch's outputs out of storage into DEST/JOB_ID/FILE."""
    settings = load_settings()
    storage = open_storage(settings.storage_url)
    with session_scope(ready_database(settings)) as session:
        found = find_batch(session, batch)
        artifacts = [
            (dest / job.key / a.name, a.key)
            for job in list_jobs(session, found.id)
            if not (final_only and job.part_of is not None)
            for a in job.artifacts
        ]
        results = None
        if final_only and found.results_at is None:  # not ended: the report as it stands now
            results = results_body(session, found)
        elif final_only:
            artifacts.append((dest / RESULTS, results_key(found.name, found.id)))
    replaced = 0  # files of the same names already in DEST: said, since they are overwritten
    for target, key in artifacts:
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced += target.exists()
        with open(target, "wb") as handle:
            for chunk in storage.read(key):
                handle.write(chunk)
    if results is not None:
        dest.mkdir(parents=True, exist_ok=True)
        replaced += (dest / RESULTS).exists()
        (dest / RESULTS).write_bytes(results)
        out.print(f"{RESULTS} as of now: the batch has not ended", markup=False)
    copied = len(artifacts) + (results is not None)
    over = f", replacing {replaced} already there" if replaced else ""
    out.print(f"copied {copied} files to {dest}{over}", markup=False, soft_wrap=True)


BatchRef = Annotated[str, typer.Argument(help="Batch id, id prefix or name.")]


@app.command()
def retry(
    batch: BatchRef,
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
) -> None:
    """Send a batch's failed jobs back to the queue."""
    settings = load_settings()
    done = control.retry(ready_database(settings), broker_publisher(settings), batch, job_key=job)
    out.print(
        f"{done.jobs} failed job(s) of {done.batch_name} [{done.batch_id}] queued again",
        markup=False,
    )
    warn_without_workers(err, settings.resolved_database_url, [done.batch_id], start_hint(settings))


@app.command()
def cancel(
    batch: BatchRef,
    abandon: Annotated[
        bool,
        typer.Option("--abandon", help="Cancel running jobs too instead of letting them finish."),
    ] = False,
) -> None:
    """Stop dispatching a batch; jobs already running finish and keep their outputs."""
    settings = load_settings()
    storage = open_storage(settings.storage_url)
    done = control.cancel(ready_database(settings), storage, batch, abandon=abandon)
    still = "" if done.ended else "; the batch ends when the jobs running now finish"
    out.print(
        f"{done.batch_name} [{done.batch_id}]: {done.jobs} job(s) cancelled{still}", markup=False
    )


@app.command()
def retake(
    batch: BatchRef,
    job: Annotated[str, typer.Option("--job", help="The episode.")],
    turn: Annotated[int, typer.Option("--turn", min=0, help="The turn (from 0) to take again.")],
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, max=2**32 - 1, help="The new take's seed (else a new one)."),
    ] = None,
) -> None:
    """Render again the part of an episode holding a turn, with a new seed, then stitch."""
    from audiobatch.client import Client  # the Python API loads on first use (see its module)

    settings = load_settings()
    done = Client(settings).retake(batch, job_id=job, turn=turn, seed=seed)
    taken = ", ".join(f"{key} (seed {seed})" for key, seed in done.seeds.items())
    out.print(
        f"{done.batch_name} [{done.batch_id}]: {taken} queued again; {done.episode} stitches"
        " once they have succeeded, keeping its outputs until then",
        markup=False,
    )
    warn_without_workers(err, settings.resolved_database_url, [done.batch_id], start_hint(settings))


@app.command()
def resume(batch: BatchRef) -> None:
    """Continue a paused batch."""
    settings = load_settings()
    done = control.resume(ready_database(settings), broker_publisher(settings), batch)
    out.print(f"{done.batch_name} [{done.batch_id}]: {done.jobs} job(s) resumed", markup=False)
    warn_without_workers(err, settings.resolved_database_url, [done.batch_id], start_hint(settings))


@app.command()
def worker(
    queues: Annotated[
        str | None, typer.Option("--queues", "-Q", help=f"Comma-separated, of {', '.join(QUEUES)}.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Threads; default twice the account's slots (API plus music concurrency).",
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "INFO",
) -> None:
    """Run a Celery worker that renders jobs from the queues."""
    from audiobatch.worker.main import run_worker

    settings = load_settings()
    ready_database(settings)
    run_worker(settings, queues=_queues(queues), concurrency=concurrency, loglevel=loglevel)


@app.command()
def scheduler(loglevel: Annotated[str, typer.Option("--loglevel")] = "INFO") -> None:
    """Run Celery beat: the reconciler tick, nightly schedules and housekeeping (any number of
    schedulers may run: a slot fires once)."""
    from audiobatch.worker.main import run_beat

    settings = load_settings()
    ready_database(settings)
    run_beat(settings, loglevel=loglevel)


@app.command()
def emulator(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 2,
    music_concurrency: Annotated[int, typer.Option("--music-concurrency", min=1)] = 2,
    latency_ms: Annotated[
        int, typer.Option("--latency-ms", min=0, help="Generation time of every request.")
    ] = 0,
    fault_rate: Annotated[float, typer.Option("--fault-rate", min=0.0, max=1.0)] = 0.0,
    faults: Annotated[
        str, typer.Option("--faults", help=f"Comma-separated mix, of {', '.join(FAULTS)}.")
    ] = ",".join(FAULTS),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault draw.")] = 0,
    quota_chars: Annotated[
        int | None,
        typer.Option("--quota-chars", min=0, help="Characters each key may spend (401 after)."),
    ] = None,
    quota_period_s: Annotated[
        float,
        typer.Option(
            "--quota-period-s", min=1.0, help="Seconds between two resets of the quota (a month)."
        ),
    ] = QUOTA_PERIOD_S,
    api_key: Annotated[
        list[str], typer.Option("--api-key", help="Accept only this key (repeatable).")
    ] = [],  # noqa: B006
    identify: Annotated[
        bool,
        typer.Option(
            "--identify/--no-identify",
            hidden=True,
            help="For tests: pose as the real API, without the x-audiobatch-emulator header.",
        ),
    ] = True,
) -> None:
    """Serve the local stand-in for the ElevenLabs API."""
    from audiobatch.emulator import EmulatorConfig, serve

    unknown = {f.strip() for f in faults.split(",") if f.strip()} - set(FAULTS)
    if unknown:
        raise typer.BadParameter(
            f"unknown fault(s) {', '.join(sorted(unknown))}", param_hint="--faults"
        )

    config = EmulatorConfig(
        concurrency=concurrency,
        music_concurrency=music_concurrency,
        latency_ms=latency_ms,
        api_keys=frozenset(api_key) or None,
        fault_rate=fault_rate,
        faults=tuple(f.strip() for f in faults.split(",") if f.strip()),
        seed=seed,
        quota_chars=quota_chars,
        quota_period_s=quota_period_s,
        identify=identify,
    )
    err.print(f"emulator listening on http://{host}:{port}")
    serve(config, host=host, port=port)


@app.command()
def dashboard(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback unless a token is set).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    insecure_no_token: Annotated[
        bool,
        typer.Option(
            "--insecure-no-token",
            help="Listen beyond loopback with no AUDIOBATCH_DASHBOARD_TOKEN: everyone who "
            "reaches the address may act.",
        ),
    ] = False,
) -> None:
    """Serve the dashboard (JSON API and pages) over the SQL state."""
    import uvicorn

    from audiobatch.dashboard.app import create_app
    from audiobatch.dashboard.binding import allowed_hosts, check_exposure

    settings = load_settings()
    check_exposure(host, settings.dashboard_token is not None, insecure_no_token=insecure_no_token)
    settings = settings.with_overrides(dashboard_allowed_hosts=allowed_hosts(settings, host))
    ready_database(settings)
    # forwarded headers are believed only from AUDIOBATCH_DASHBOARD_TRUSTED_PROXIES (in the app)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    settings = load_settings()
    migrate.upgrade(settings.resolved_database_url)
    out.print("database schema is up to date")


def _queues(value: str | None) -> list[str]:
    if value is None:
        return list(QUEUES)
    chosen = [q.strip() for q in value.split(",") if q.strip()]
    unknown = [q for q in chosen if q not in QUEUES]
    if unknown:
        raise typer.BadParameter(
            f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUES)}"
        )
    return chosen
