"""Compare: audiobatch against what a user would write instead, side by side in one run.

Three contenders render the same N-job JSONL dialogue manifest, each against a fresh emulator
(concurrency 8, 100 ms latency, no faults; ideal 80 jobs/s):

- audiobatch: two `audiobatch worker --concurrency 8` processes and `audiobatch scheduler` on a
  fresh PostgreSQL database and a flushed Redis database; timed: `audiobatch submit --wait`.
- script: bench/baselines/sdk_asyncio.py, the official SDK's async client under a semaphore of 8;
  timed: the script.
- naive Celery: bench/baselines/naive_celery.py, a task with `autoretry_for` and `retry_backoff`
  and no shared limiter, two `celery worker --pool threads --concurrency 8` processes; timed: its
  producer, which queues one task a job and waits for every result.

Each timed command starts cold (interpreter start-up included); workers get a few seconds to
connect before the clock starts. For each contender it prints seconds, jobs/s, the fraction of
the ideal (end to end, and while rendering: from the first request to the last answer) and the
emulator's 429 count and answers by status; then audiobatch's throughput over the script's and
over naive Celery's (medians over runs). The exit status is 1 when audiobatch reaches less than
0.95 of the script or does not beat naive Celery.

With ``--embedded`` two contenders render against an emulator of concurrency 6 and 150 ms
latency (ideal 40 jobs/s): `audiobatch run` on the embedded defaults (SQLite, the filesystem
broker, a local folder, the worker it starts itself), timed from its start to its exit, and the
script under a semaphore of 6. The exit status is 1 when `run` keeps the account less than 0.95
full while rendering.

    .venv/bin/python bench/compare.py [--jobs 2000] [--runs 1] [--embedded]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import stack
from tests.acceptance.cli import clean_environment

BASELINES = Path(__file__).resolve().parent / "baselines"
AUDIOBATCH_REDIS_DB, NAIVE_REDIS_DB = 11, 12  # numbers no test or other benchmark uses
OF_SCRIPT = 0.95  # audiobatch's throughput must reach this fraction of the script's
OF_IDEAL = 0.95  # `run` must keep the account this full while rendering
TIMEOUT_S = 1800

Contender = Callable[[Path, Path, str], float]  # (manifest, folder, emulator URL) -> seconds


def start(
    argv: list[str], folder: Path, env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            argv, cwd=folder, env=dict(env), stdout=handle, stderr=subprocess.STDOUT
        )


def timed(argv: list[str], folder: Path, env: Mapping[str, str], log: Path) -> float:
    """Seconds ``argv`` takes to finish; SystemExit with its log's end when it fails."""
    started = time.monotonic()
    with open(log, "ab") as handle:
        result = subprocess.run(argv, cwd=folder, env=dict(env), stdout=handle,
                                stderr=subprocess.STDOUT, timeout=TIMEOUT_S, check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{log.read_text()[-2000:]}")
    return elapsed


def written(out: Path, manifest: Path) -> None:
    """SystemExit unless ``out`` holds one non-empty file per manifest line."""
    jobs = len(manifest.read_text().splitlines())
    files = sum(1 for path in out.iterdir() if path.stat().st_size > 0)
    if files != jobs:
        raise SystemExit(f"{out} holds {files} audio files, not {jobs}")


def run_script(manifest: Path, folder: Path, emulator_url: str, concurrency: int) -> float:
    out = folder / "out"
    argv = [sys.executable, str(BASELINES / "sdk_asyncio.py"), str(manifest), str(out),
            "--base-url", emulator_url, "--concurrency", str(concurrency)]  # fmt: skip
    env = clean_environment(ELEVENLABS_API_KEY=stack.API_KEY)
    elapsed = timed(argv, folder, env, folder / "script.log")
    written(out, manifest)
    return elapsed


def run_naive_celery(manifest: Path, folder: Path, emulator_url: str, broker: str) -> float:
    out = folder / "out"
    env = clean_environment(
        NAIVE_REDIS_URL=broker, NAIVE_OUT=str(out), ELEVENLABS_API_KEY=stack.API_KEY,
        ELEVENLABS_BASE_URL=emulator_url, PYTHONPATH=str(BASELINES),
    )  # fmt: skip
    worker = [sys.executable, "-m", "celery", "-A", "naive_celery", "worker", "--pool", "threads",
              "--concurrency", str(stack.CONCURRENCY), "--loglevel", "WARNING"]  # fmt: skip
    fleet = [start([*worker, "-n", f"naive{i}@%h"], folder, env, folder / f"worker{i}.log")
             for i in range(stack.WORKERS)]  # fmt: skip
    try:
        time.sleep(stack.CONNECT_S)
        argv = [sys.executable, str(BASELINES / "naive_celery.py"), str(manifest)]
        elapsed = timed(argv, folder, env, folder / "producer.log")
    finally:
        stack.stop_all(fleet)
    written(out, manifest)
    return elapsed


def run_embedded(manifest: Path, folder: Path, emulator_url: str) -> float:
    """Seconds `audiobatch run` takes on the embedded defaults, its own worker included."""
    env = clean_environment(
        ELEVENLABS_API_KEY=stack.API_KEY, AUDIOBATCH_API_URL=emulator_url,
        AUDIOBATCH_API_CONCURRENCY=str(stack.EMBEDDED.concurrency),
        AUDIOBATCH_HOME=str(folder / "home"), AUDIOBATCH_STORAGE_URL=f"file://{folder / 'renders'}",
    )  # fmt: skip
    argv = [sys.executable, "-m", "audiobatch", "run", str(manifest), "--json"]
    return timed(argv, folder, env, folder / "run.log")


def measure(
    name: str, contender: Contender, manifest: Path, root: Path, jobs: int, account: stack.Account
) -> stack.Measurement:
    folder = root / name.replace(" ", "-")
    folder.mkdir()
    with stack.emulator(folder, account=account) as url:
        seconds = contender(manifest, folder, url)
        run = stack.Measurement.read(jobs, seconds, url, account)
    if run.stats["generations"] < jobs:
        raise SystemExit(f"{name}: the emulator generated {run.stats['generations']} of {jobs}")
    print(f"  {name:<13} {run.seconds:7.2f} s  {run.jobs_per_s:5.1f} jobs/s  "
          f"{run.of_ideal:.3f} of ideal ({run.rendering_of_ideal:.3f} while rendering)  "
          f"429s {run.refused:>5} ({run.share_429:.1%} of requests)  "
          f"by status {json.dumps(run.stats['requests_by_status'])}", flush=True)  # fmt: skip
    return run


def one_run(jobs: int, root: Path, postgres_server: str, redis_server: str) -> dict[str, float]:
    """Each contender's throughput in jobs/s."""
    manifest = stack.write_manifest(root / "bench.jsonl", jobs)
    with stack.fresh_database(postgres_server) as database:
        contenders: dict[str, Contender] = {
            "audiobatch": partial(stack.run_audiobatch, database=database,
                                  broker=stack.flushed(f"{redis_server}/{AUDIOBATCH_REDIS_DB}")),
            "script": partial(run_script, concurrency=stack.FLEET.concurrency),
            "naive Celery": partial(run_naive_celery,
                                    broker=stack.flushed(f"{redis_server}/{NAIVE_REDIS_DB}")),
        }  # fmt: skip
        return {
            name: measure(name, contender, manifest, root, jobs, stack.FLEET).jobs_per_s
            for name, contender in contenders.items()
        }


def embedded_run(jobs: int, root: Path) -> dict[str, float]:
    """`run`'s fraction of the ideal while rendering and end to end, and the script's."""
    manifest = stack.write_manifest(root / "bench.jsonl", jobs)
    ran = measure("audiobatch run", run_embedded, manifest, root, jobs, stack.EMBEDDED)
    script = measure(
        "script", partial(run_script, concurrency=stack.EMBEDDED.concurrency), manifest, root,
        jobs, stack.EMBEDDED,
    )  # fmt: skip
    return {
        "run while rendering": ran.rendering_of_ideal,
        "run end to end": ran.of_ideal,
        "script while rendering": script.rendering_of_ideal,
        "script end to end": script.of_ideal,
    }


def compare_embedded(jobs: int, runs: int) -> None:
    print(f"{jobs} dialogue jobs, {stack.EMBEDDED.describe()}", flush=True)
    fractions: dict[str, list[float]] = {}
    for run in range(1, runs + 1):
        print(f"run {run}:", flush=True)
        with tempfile.TemporaryDirectory(prefix="audiobatch-compare-") as root:
            for name, fraction in embedded_run(jobs, Path(root)).items():
                fractions.setdefault(name, []).append(fraction)
    median = {name: statistics.median(values) for name, values in fractions.items()}
    met = median["run while rendering"] >= OF_IDEAL
    print(f"median of {runs}, of the ideal: "
          + ", ".join(f"{name} {value:.3f}" for name, value in median.items())
          + f" (run needs >= {OF_IDEAL} while rendering): {'met' if met else 'NOT met'}")  # fmt: skip
    if not met:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2000)  # as many as the saturation run
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--embedded", action="store_true", help="`run` on the embedded defaults")
    args = parser.parse_args()
    if args.embedded:
        compare_embedded(args.jobs, args.runs)
        return
    print(f"{args.jobs} dialogue jobs, {stack.FLEET.describe()}, "
          f"{stack.WORKERS} workers of {stack.CONCURRENCY} threads", flush=True)  # fmt: skip
    throughputs: dict[str, list[float]] = {}
    with stack.servers() as (postgres_server, redis_server):
        for run in range(1, args.runs + 1):
            print(f"run {run}:", flush=True)
            with tempfile.TemporaryDirectory(prefix="audiobatch-compare-") as root:
                speeds = one_run(args.jobs, Path(root), postgres_server, redis_server)
            for name, speed in speeds.items():
                throughputs.setdefault(name, []).append(speed)
    median = {name: statistics.median(values) for name, values in throughputs.items()}
    of_script = median["audiobatch"] / median["script"]
    of_naive = median["audiobatch"] / median["naive Celery"]
    met = of_script >= OF_SCRIPT and of_naive > 1
    print(f"median of {args.runs}: audiobatch/script = {of_script:.3f} (needs >= {OF_SCRIPT}), "
          f"audiobatch/naive Celery = {of_naive:.2f} (needs > 1): {'met' if met else 'NOT met'}")  # fmt: skip
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
