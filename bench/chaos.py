"""Chaos: a manifest of mixed kinds over three worker processes against the emulator with 10%
faults, while a random worker is killed with SIGKILL every few seconds and replaced, PostgreSQL is
restarted once, Redis is restarted once with its data gone, and the S3 endpoint is unreachable
for 10 s.

Starts what it needs (emulator, a PostgreSQL server and a Redis server of its own, so that it can
restart them, moto's S3 server, the workers and the scheduler), then checks that every job succeeded, every stored object is what
its record says, every answer stored is byte for byte what the emulator served for the request
that succeeded, and the batch's folder holds nothing else. Prints jobs, kills, jobs in flight at
the kills, what was restarted, generations beyond one a job, and wall time.

    .venv/bin/python bench/chaos.py [--dialogues 100] [--songs 50] [--kill-every 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto.server import ThreadedMotoServer

from tests import services
from tests.acceptance.chaos import (
    FAULTS,
    Chaos,
    Disruption,
    PausableProxy,
    output_problems,
    restart,
    run_with_kills,
    write_mixed_manifest,
)
from tests.acceptance.cli import audiobatch, production_environment, running_emulator, start, stop

KEY = "chaos-bench-key"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=100)  # each with its voice change
    parser.add_argument("--songs", type=int, default=50)  # each with its stems
    parser.add_argument("--kill-every", type=float, default=3.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    s3.start()
    host, port = s3.get_host_and_port()
    s3_url, bucket = f"http://{host}:{port}", f"chaos-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    faults = ("--fault-rate", "0.1", "--faults", FAULTS, "--seed", "11")
    emulator_args = ("--concurrency", "8", "--music-concurrency", "3", "--latency-ms", "300")
    with (
        services.PrivatePostgres() as postgres,
        contextmanager(services.fresh_postgres_database)(postgres.url) as database,
        services.PrivateRedis() as redis,
        tempfile.TemporaryDirectory(prefix="audiobatch-chaos-") as root,
        running_emulator(*emulator_args, *faults, "--api-key", KEY, cwd=Path(root)) as emulator,
    ):
        folder = Path(root)
        s3_proxy = PausableProxy((host, port))
        env = production_environment(
            folder, api_key=KEY, emulator_url=emulator, postgres_url=database,
            redis_url=f"{redis.url}/0", s3_server=s3_proxy.url,
            s3_bucket=bucket, AUDIOBATCH_API_CONCURRENCY="8", AUDIOBATCH_MUSIC_CONCURRENCY="3",
            AUDIOBATCH_LEASE_S="5", AUDIOBATCH_MAX_LOST_LEASES="20",
        )  # fmt: skip
        audiobatch("db", "upgrade", cwd=folder, env=env)
        chaos = Chaos(folder, env, database)
        scheduler = start("scheduler", cwd=folder, env=env, log=folder / "scheduler.log")
        try:
            manifest = write_mixed_manifest(folder, args.dialogues, args.songs)
            report, seconds = run_with_kills(
                chaos, manifest, workers=3, kill_every_s=args.kill_every, timeout_s=1800, seed=5,
                disruptions=[
                    # the store first: no job succeeds while it is away, so the restarts
                    # within its outage hit a running batch however fast the machine
                    Disruption(5.0, "S3 unreachable 10 s", lambda: s3_proxy.outage(10.0)),
                    Disruption(8.0, "PostgreSQL restarted", restart(postgres, down_s=3.0)),
                    Disruption(12.0, "Redis restarted empty", restart(redis, down_s=2.0)),
                ],
            )  # fmt: skip
        finally:
            chaos.stop_all()
            stop(scheduler)
        problems, extra = output_problems(database, s3_url, bucket, emulator)
        env["AWS_ENDPOINT_URL"] = s3_url
        checked = audiobatch("check", "--objects", cwd=folder, env=env)
        verified = audiobatch("verify", report["id"], cwd=folder, env=env)
    s3.stop()
    print(
        f"jobs {len(report['jobs'])} ({report['status']}), kills {chaos.kills} "
        f"({chaos.kills_in_flight} jobs in flight), restarts and outages: "
        f"{', '.join(chaos.disrupted)}, generations beyond one a job {extra}, wall {seconds:.1f} s, lost or corrupt outputs {len(problems)}"
    )
    for problem in problems[:10]:
        print(f"  {problem}")
    for name, answer in (("check --objects", checked), (f"verify {report['id']}", verified)):
        print(f"audiobatch {name}: exit {answer.returncode}")
        print(answer.stdout.strip())
    if (
        report["status"] != "succeeded"
        or problems
        or extra > chaos.kills_in_flight
        or checked.returncode != 0
        or verified.returncode != 0
    ):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
