"""Saturation: N dialogue jobs against the emulator (concurrency 8, 100 ms latency), two workers.

Starts what it needs (emulator, a fresh PostgreSQL database, a Redis database, two
`audiobatch worker` processes), submits a JSONL manifest with `audiobatch submit --wait`, and
prints throughput against the ideal (concurrency / latency) and the 429 share.

    .venv/bin/python bench/saturation.py [--jobs 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import stack

REDIS_DB = 8


def one_run(jobs: int, folder: Path, postgres: str, redis_url: str) -> dict[str, float]:
    manifest = stack.write_manifest(folder / "bench.jsonl", jobs)
    with stack.emulator(folder) as url:
        elapsed = stack.run_audiobatch(manifest, folder, url, postgres, redis_url)
        run = stack.Measurement.read(jobs, elapsed, url)
    return {
        "seconds": run.seconds,
        "jobs_per_s": run.jobs_per_s,
        "of_ideal": run.of_ideal,
        "share_429": run.share_429,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with stack.servers() as (postgres_server, redis_server):
        for run in range(args.runs):
            broker = stack.flushed(f"{redis_server}/{REDIS_DB}")
            with (
                stack.fresh_database(postgres_server) as url,
                tempfile.TemporaryDirectory(prefix="audiobatch-bench-") as folder,
            ):
                results.append(one_run(args.jobs, Path(folder), url, broker))
            print(
                f"run {run + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in results[-1].items()),
                flush=True,
            )
    median = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"median of {args.runs} ({args.jobs} jobs, concurrency {stack.CONCURRENCY}, latency {stack.LATENCY_MS} ms, {stack.WORKERS} workers): "
          + ", ".join(f"{k}={v:.3f}" for k, v in median.items()))  # fmt: skip


if __name__ == "__main__":
    main()
