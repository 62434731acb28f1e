"""Saturation: N dialogue jobs against the emulator (concurrency 8, 100 ms latency), two workers.

Starts what it needs (emulator, a fresh PostgreSQL database, a Redis database, two
`audiobatch worker` processes and the scheduler), submits a JSONL manifest with
`audiobatch submit --wait`, and prints throughput against the ideal (concurrency / latency), end
to end (from the cold start of `submit` to its exit) and while rendering (from the first
generation to the last), and the share of requests refused for concurrency. With
``--fault-rate`` the emulator spoils that share of requests with FAULT_MIX (500, 503 with
Retry-After, 429 system_busy, bodies cut short, dropped, malformed or empty); every stored output
is then checked against the bytes the emulator served for the request that succeeded.

    .venv/bin/python bench/saturation.py [--jobs 2000] [--runs 3] [--fault-rate 0.1]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import create_engine, select

from audiobatch.db.models import Artifact, Attempt, Job
from bench import stack

REDIS_DB = 8
# Faults a retry must recover from. The emulator's "slow" fault (a 2 s first byte) is left out:
# it holds a concurrency slot 21 times as long, so 2% of them alone cap throughput near 0.7.
FAULT_MIX = "500,503,busy,truncate,disconnect,malformed,empty"


def one_run(
    jobs: int, folder: Path, postgres: str, redis_url: str, fault_rate: float
) -> dict[str, float]:
    manifest = stack.write_manifest(folder / "bench.jsonl", jobs)
    faults = (
        ("--fault-rate", str(fault_rate), "--faults", FAULT_MIX, "--seed", "7")
        if fault_rate
        else ()
    )
    with stack.emulator(folder, *faults) as url:
        elapsed = stack.run_audiobatch(manifest, folder, url, postgres, redis_url)
        run = stack.Measurement.read(jobs, elapsed, url)
        served = {e["request_id"]: e["sha256"] for e in httpx.get(f"{url}/_emulator/ledger").json()}
    corrupt = corrupt_outputs(postgres, folder / "renders", served)
    if corrupt:
        raise SystemExit(f"{len(corrupt)} corrupt outputs, e.g. {corrupt[:3]}")
    return {
        "seconds": run.seconds,
        "jobs_per_s": run.jobs_per_s,
        "of_ideal_end_to_end": run.of_ideal,
        "of_ideal_rendering": run.rendering_of_ideal,
        "share_429": run.share_429,
        "requests_per_job": sum(run.stats["requests_by_status"].values()) / jobs,
    }


def corrupt_outputs(database: str, renders: Path, served: dict[str, str]) -> list[str]:
    """Outputs whose stored bytes are not what the emulator served for the job's successful
    request; raises if a job did not succeed."""
    engine = create_engine(database)
    with engine.connect() as db:
        unfinished = db.execute(select(Job.key, Job.status).where(Job.status != "succeeded")).all()
        if unfinished:
            raise SystemExit(f"{len(unfinished)} jobs did not succeed, e.g. {unfinished[:3]}")
        rows = db.execute(
            select(Job.key, Artifact.key, Artifact.sha256, Attempt.request_id)
            .join(Artifact, Artifact.job_id == Job.id)
            .join(Attempt, (Attempt.job_id == Job.id) & (Attempt.outcome == "succeeded"))
        ).all()
    engine.dispose()
    corrupt = []
    for job, key, sha256, request_id in rows:
        stored = hashlib.sha256((renders / key).read_bytes()).hexdigest()
        if not stored == sha256 == served.get(request_id):
            corrupt.append(job)
    return corrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    results = []
    with stack.servers() as (postgres_server, redis_server):
        for run in range(args.runs):
            broker = stack.flushed(f"{redis_server}/{REDIS_DB}")
            with (
                stack.fresh_database(postgres_server) as url,
                tempfile.TemporaryDirectory(prefix="audiobatch-bench-") as folder,
            ):
                results.append(one_run(args.jobs, Path(folder), url, broker, args.fault_rate))
            print(
                f"run {run + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in results[-1].items()),
                flush=True,
            )
    median = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"median of {args.runs} ({args.jobs} jobs, {stack.FLEET.describe()}, "
          f"faults {args.fault_rate:.0%}, {stack.WORKERS} workers): "
          + ", ".join(f"{k}={v:.3f}" for k, v in median.items()))  # fmt: skip


if __name__ == "__main__":
    main()
