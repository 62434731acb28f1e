"""Submission: an N-job JSONL dialogue manifest validated and queued, on SQLite and on PostgreSQL.

Starts what it needs (a fresh PostgreSQL database per run, a flushed Redis database as the broker),
runs `audiobatch db upgrade` (not timed), then times `audiobatch submit MANIFEST` as a user runs
it: reading, validating, writing the batch and publishing one wake-up per job. Afterwards it checks
that the database holds N queued jobs, each marked as announced, and the broker N messages.

    .venv/bin/python bench/submission.py [--jobs 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.db.models import Job, JobStatus
from audiobatch.db.session import dispose_engines, session_scope
from audiobatch.render.families import FAMILIES
from tests import services
from tests.acceptance.cli import audiobatch, clean_environment

TARGET_S = 30.0
REDIS_DB = 13  # a database number no test or other benchmark uses
VOICES = ("JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq")


def write_manifest(path: Path, jobs: int) -> None:
    """One dialogue job a line, two voices taking turns."""
    with open(path, "w") as out:
        for n in range(jobs):
            line = {"id": f"j{n}", "kind": "dialogue",
                    "inputs": [{"voice": VOICES[n % 2], "text": f"Line number {n}, read aloud."}]}  # fmt: skip
            out.write(json.dumps(line) + "\n")


def broker_messages(broker: str) -> int:
    """Messages waiting in the Redis lists kombu keeps per queue."""
    client = redis.Redis.from_url(broker)
    queues = {family.queue for family in FAMILIES.values()}
    return sum(int(client.llen(queue)) for queue in queues)


def queued_and_announced(database: str) -> int:
    """Jobs ``queued`` whose wake-up was sent."""
    with session_scope(database) as session:
        count = session.scalar(
            select(func.count()).where(
                Job.status == JobStatus.QUEUED, Job.published_at.is_not(None)
            )
        )
    dispose_engines()
    return int(count or 0)


def one_submission(manifest: Path, folder: Path, database: str, broker: str, jobs: int) -> float:
    """Seconds `audiobatch submit` took; raises SystemExit when it failed or left too little."""
    folder.mkdir()
    redis.Redis.from_url(broker).flushdb()
    env = clean_environment(
        AUDIOBATCH_DATABASE_URL=database, AUDIOBATCH_BROKER_URL=broker,
        AUDIOBATCH_HOME=str(folder / "home"), AUDIOBATCH_STORAGE_URL=f"file://{folder / 'renders'}",
    )  # fmt: skip
    upgraded = audiobatch("db", "upgrade", cwd=folder, env=env)
    if upgraded.returncode != 0:
        raise SystemExit(f"db upgrade failed: {upgraded.stderr[-2000:]}")
    started = time.monotonic()
    result = audiobatch("submit", str(manifest), cwd=folder, env=env, timeout_s=1800)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"submit failed: {result.stderr[-2000:]}")
    in_database, in_broker = queued_and_announced(database), broker_messages(broker)
    if in_database != jobs or in_broker != jobs:
        raise SystemExit(
            f"expected {jobs} queued and announced jobs and {jobs} messages; "
            f"the database has {in_database}, the broker {in_broker}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    with ExitStack() as stack:
        postgres_server = stack.enter_context(contextmanager(services.postgres_server)())
        broker = f"{stack.enter_context(contextmanager(services.redis_server)())}/{REDIS_DB}"
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audiobatch-bench-")))
        manifest = root / "bench.jsonl"
        write_manifest(manifest, args.jobs)
        for run in range(args.runs):
            sqlite = f"sqlite:///{root / f'sqlite{run}' / 'state.db'}"
            seconds["sqlite"].append(
                one_submission(manifest, root / f"sqlite{run}", sqlite, broker, args.jobs)
            )
            with contextmanager(services.fresh_postgres_database)(postgres_server) as postgres:
                seconds["postgresql"].append(
                    one_submission(manifest, root / f"postgresql{run}", postgres, broker, args.jobs)
                )
            print(
                f"run {run + 1}: " + ", ".join(f"{k}={v[-1]:.2f} s" for k, v in seconds.items()),
                flush=True,
            )
        redis.Redis.from_url(broker).flushdb()
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"median of {args.runs} ({args.jobs} jobs, target {TARGET_S:.0f} s): "
          + ", ".join(f"{k}={v:.2f} s" for k, v in medians.items()))  # fmt: skip
    if any(value > TARGET_S for value in medians.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
