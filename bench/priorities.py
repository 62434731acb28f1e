"""Priorities and fair share: a small batch submitted behind a large backlog, beside it alone.

Two workers and a scheduler on PostgreSQL and Redis render against an emulator of concurrency 8
and 100 ms a request (ideal 80 jobs/s, see bench/stack.py). A 10-job batch is timed alone (after
one more to warm the workers up); then
a 5,000-job backlog (priority normal) is submitted, and once it renders, a 10-job batch at
priority urgent and then one at normal, each waited for in turn. For each small batch it prints
the time from its submission to its first output and to its last, read from SQL (the batch's
creation, its jobs' and its own end). Were jobs taken first come first served, each small batch
would wait for the whole backlog: 5,000 / 80 = about a minute.

    .venv/bin/python bench/priorities.py [--backlog 5000] [--jobs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.db.models import Batch, Job, JobStatus
from audiobatch.db.session import session_scope
from bench import stack
from tests.acceptance.cli import audiobatch

REDIS_DB = 14  # a number no test or other benchmark uses
STARTED_JOBS = 200  # the backlog is rendering: this many of its jobs have ended


def submit(manifest: Path, folder: Path, env: dict[str, str], *args: str) -> str:
    """Submit ``manifest`` with ``args``; the batch's id."""
    done = audiobatch("submit", str(manifest), "--json", *args, cwd=folder, env=env, timeout_s=600)
    if done.returncode not in (0, 3):
        raise SystemExit(f"submit failed: {done.stderr[-2000:]}")
    [batch] = json.loads(done.stdout)
    return str(batch["id"])


def timings(database: str, batch_id: str) -> tuple[float, float]:
    """Seconds from the batch's creation to its first output and to its end."""
    with session_scope(database) as session:
        batch = session.get_one(Batch, batch_id)
        first = session.scalar(
            select(func.min(Job.finished_at)).where(
                Job.batch_id == batch_id, Job.status == JobStatus.SUCCEEDED
            )
        )
        assert first is not None and batch.finished_at is not None, batch.status
        return (
            (first - batch.created_at).total_seconds(),
            (batch.finished_at - batch.created_at).total_seconds(),
        )


def ended_jobs(database: str, batch_id: str) -> int:
    with session_scope(database) as session:
        return (
            session.scalar(
                select(func.count()).where(Job.batch_id == batch_id, Job.finished_at.is_not(None))
            )
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    print(f"{args.jobs}-job batches beside a {args.backlog}-job backlog; {stack.FLEET.describe()}, "
          f"{stack.WORKERS} workers of {stack.CONCURRENCY} threads", flush=True)  # fmt: skip
    rows: list[tuple[str, float, float]] = []
    with (
        stack.servers() as (postgres_server, redis_server),
        tempfile.TemporaryDirectory(prefix="audiobatch-priorities-") as root,
        stack.fresh_database(postgres_server) as database,
    ):
        folder = Path(root)
        small = {name: stack.write_manifest(folder / f"{name}.jsonl", args.jobs)
                 for name in ("warm-up", "alone", "urgent", "normal")}  # fmt: skip
        backlog = stack.write_manifest(folder / "backlog.jsonl", args.backlog)
        broker = stack.flushed(f"{redis_server}/{REDIS_DB}")
        with (
            stack.emulator(folder) as url,
            stack.fleet(folder, url, database, broker) as env,
        ):
            submit(small["warm-up"], folder, env, "--wait")  # workers' first jobs cost more
            alone = submit(small["alone"], folder, env, "--wait")
            rows.append(("alone", *timings(database, alone)))
            behind = submit(backlog, folder, env)
            while ended_jobs(database, behind) < STARTED_JOBS:
                time.sleep(0.2)
            for priority in ("urgent", "normal"):
                batch = submit(small[priority], folder, env, "--wait", "--priority", priority)
                rows.append((f"{priority}, behind the backlog", *timings(database, batch)))
            left = args.backlog - ended_jobs(database, behind)
            audiobatch("cancel", behind, cwd=folder, env=env)
    print(f"{'batch':<28} {'first output s':>15} {'last output s':>14}")
    for name, first, last in rows:
        print(f"{name:<28} {first:>15.2f} {last:>14.2f}")
    print(f"the backlog still had {left} jobs to render when the last small batch ended")


if __name__ == "__main__":
    main()
