"""Saturation: N dialogue jobs against the emulator (concurrency 8, 100 ms latency), two workers.

Starts what it needs (emulator, a fresh PostgreSQL database, a Redis database, two
`audiobatch worker` processes), submits a JSONL manifest with `audiobatch submit --wait`, and
prints throughput against the ideal (concurrency / latency) and the 429 share.

    .venv/bin/python bench/saturation.py [--jobs 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import services
from tests.acceptance.cli import audiobatch, clean_environment, start, stop

CONCURRENCY, LATENCY_MS = 8, 100
HOST = "JBFqnCBsd6RMkjVDRZzb"


def one_run(jobs: int, folder: Path, postgres: str, redis_url: str) -> dict[str, float]:
    manifest = folder / "bench.jsonl"
    with open(manifest, "w") as out:
        for n in range(jobs):
            line = {"id": f"j{n}", "kind": "dialogue", "output_format": "pcm_16000",
                    "inputs": [{"voice": HOST, "text": f"Line number {n}."}]}  # fmt: skip
            out.write(json.dumps(line) + "\n")
    port = services.free_port()
    emulator = start("emulator", "--port", str(port), "--concurrency", str(CONCURRENCY),
                     "--latency-ms", str(LATENCY_MS), cwd=folder, env=clean_environment(),
                     log=folder / "emulator.log")  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{url}/_emulator/stats", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    env = clean_environment(
        ELEVENLABS_API_KEY="bench-key", AUDIOBATCH_API_URL=url, AUDIOBATCH_DATABASE_URL=postgres,
        AUDIOBATCH_BROKER_URL=redis_url, AUDIOBATCH_STORAGE_URL=f"file://{folder / 'renders'}",
        AUDIOBATCH_API_CONCURRENCY=str(CONCURRENCY), AUDIOBATCH_HOME=str(folder / "home"),
    )  # fmt: skip
    audiobatch("db", "upgrade", cwd=folder, env=env)
    workers = [start("worker", "--concurrency", str(CONCURRENCY), "--loglevel", "WARNING",
                     cwd=folder, env=env, log=folder / f"worker{i}.log") for i in range(2)]  # fmt: skip
    scheduler = start(
        "scheduler", "--loglevel", "WARNING", cwd=folder, env=env, log=folder / "beat.log"
    )
    time.sleep(3)  # workers connected
    started = time.monotonic()
    result = audiobatch(
        "submit", str(manifest), "--wait", "--json", cwd=folder, env=env, timeout_s=1800
    )
    elapsed = time.monotonic() - started
    stats = httpx.get(f"{url}/_emulator/stats").json()
    for process in (*workers, scheduler, emulator):
        stop(process)
    if result.returncode != 0:
        raise SystemExit(f"submit failed: {result.stderr[-2000:]}")
    requests = sum(stats["requests_by_status"].values())
    throughput = jobs / elapsed
    return {
        "seconds": elapsed,
        "jobs_per_s": throughput,
        "of_ideal": throughput / (CONCURRENCY / (LATENCY_MS / 1000)),
        "share_429": stats["too_many_concurrent"] / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = services.postgres_server()
    postgres_server = next(server)
    redis_gen = services.redis_server()
    redis_server = next(redis_gen)
    results = []
    for run in range(args.runs):
        database = services.fresh_postgres_database(postgres_server)
        url = next(database)
        subprocess.run(["redis-cli", "-u", f"{redis_server}/8", "flushdb"], capture_output=True)
        with tempfile.TemporaryDirectory(prefix="audiobatch-bench-") as folder:
            results.append(one_run(args.jobs, Path(folder), url, f"{redis_server}/8"))
        next(database, None)
        print(
            f"run {run + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in results[-1].items()),
            flush=True,
        )
    median = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"median of {args.runs} ({args.jobs} jobs, concurrency {CONCURRENCY}, latency {LATENCY_MS} ms, 2 workers): "
          + ", ".join(f"{k}={v:.3f}" for k, v in median.items()))  # fmt: skip


if __name__ == "__main__":
    main()
