"""Wake-ups: a backlog that drains slowly keeps one broker message per queued job.

Submits N one-line dialogue jobs at once to two workers and a scheduler on PostgreSQL and Redis,
against an emulator of concurrency 6 and 50 ms latency (ideal 120 jobs/s), with
``AUDIOBATCH_REPUBLISH_AFTER_S`` at 5 s, which would announce every waiting job again every five
seconds if waiting were a reason. Every second it reads the messages Redis holds for the job
queues (waiting, and delivered but not yet acknowledged) and the queued jobs in PostgreSQL, and
prints the largest ratio of the two over the drain (samples with fewer than 100 queued jobs left
out: the workers' own prefetch dominates there). The exit status is 1 above 1.1.

    .venv/bin/python bench/wakeups.py [--jobs 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

import redis
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.broker import JOB_QUEUES
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Job, JobStatus
from audiobatch.db.session import session_scope
from bench import stack

ACCOUNT = stack.Account(concurrency=6, latency_ms=50)
REDIS_DB = 13  # a number no test or other benchmark uses
MOST = 1.1  # broker messages per queued job
FEW_QUEUED = 100


def sample(
    database: str, broker: str, every_s: float, done: threading.Event
) -> list[tuple[int, int]]:
    """(broker messages, queued jobs) every ``every_s`` until ``done``."""
    client = redis.Redis.from_url(broker)
    samples: list[tuple[int, int]] = []
    while not done.wait(every_s):
        messages = sum(client.llen(queue) for queue in JOB_QUEUES) + client.hlen("unacked")
        with session_scope(database) as session:
            queued = session.scalar(
                select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)
            )
        samples.append((messages, queued or 0))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=20000)
    args = parser.parse_args()
    print(f"{args.jobs} dialogue jobs, {ACCOUNT.describe()}, {stack.WORKERS} workers", flush=True)
    with (
        stack.servers() as (postgres_server, redis_server),
        tempfile.TemporaryDirectory(prefix="audiobatch-wakeups-") as root,
        stack.fresh_database(postgres_server) as database,
    ):
        folder = Path(root)
        manifest = stack.write_manifest(folder / "backlog.jsonl", args.jobs)
        broker = stack.flushed(f"{redis_server}/{REDIS_DB}")
        upgrade(database)  # before the sampler reads it
        done = threading.Event()
        samples: list[tuple[int, int]] = []
        sampler = threading.Thread(
            target=lambda: samples.extend(sample(database, broker, 1.0, done)), daemon=True
        )
        with stack.emulator(folder, account=ACCOUNT) as url:
            sampler.start()
            seconds = stack.run_audiobatch(
                manifest, folder, url, database, broker, ACCOUNT, AUDIOBATCH_REPUBLISH_AFTER_S="5"
            )
            done.set()
            sampler.join()
    ratios = [messages / queued for messages, queued in samples if queued >= FEW_QUEUED]
    worst = max(ratios, default=0.0)
    peak_messages = max((messages for messages, _ in samples), default=0)
    print(f"drained in {seconds:.1f} s ({args.jobs / seconds:.1f} jobs/s); {len(samples)} samples; "
          f"peak broker messages {peak_messages}; largest messages per queued job {worst:.3f} "
          f"(needs <= {MOST}): {'met' if worst <= MOST else 'NOT met'}")  # fmt: skip
    if worst > MOST:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
