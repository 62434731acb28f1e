"""Throughput grows with hosts: the same account (concurrency 48 at the emulator, 48 in the
fleet-wide limiter) rendered by 1, 2 and 3 hosts of the simulated cluster (tests/cluster: network
namespaces, each host its own home folder and a worker of fixed concurrency; PostgreSQL, Redis,
moto's S3 server and the emulator in a services namespace). Needs root.

Prints jobs/s while rendering (the emulator's ledger, first generation to last) for each host
count, the ideal (the concurrency in use over the latency), and the ratio to linear (jobs/s over
the host count times one host's). Target: at least 0.9 of linear until the account's limit binds.

    .venv/bin/python bench/cluster.py [--jobs-per-host 96] [--latency-ms 2000] [--worker-concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.stack import write_manifest
from tests.acceptance.cli import audiobatch
from tests.cluster.cluster import HOSTS, KEY, Cluster, Deployment, wait_for_end
from tests.cluster.network import Network
from tests.cluster.services import cluster_services

ACCOUNT_CONCURRENCY = 48
CONNECT_S = 5.0  # what workers are given to connect before the batch is submitted


def jobs_per_s(cluster: Cluster, hosts: int, jobs: int, deployment: Deployment) -> float:
    """Jobs/s while ``hosts`` hosts render ``jobs`` dialogue jobs (first generation to last)."""
    services = cluster.services
    database, bucket = services.fresh_database(), services.fresh_bucket()
    services.flushed_redis()
    args = ("--concurrency", str(ACCOUNT_CONCURRENCY), "--latency-ms", str(deployment.latency_ms))
    with (
        tempfile.TemporaryDirectory(prefix="audiobatch-cluster-bench-") as root,
        services.emulator(*args, "--api-key", KEY) as emulator,
    ):
        folder = Path(root)
        env = cluster.environment(folder / "submitter", deployment, emulator, database, bucket)
        if audiobatch("db", "upgrade", cwd=folder, env=env).returncode != 0:
            raise SystemExit("db upgrade failed")
        manifest = write_manifest(folder / "bench.jsonl", jobs)
        names = HOSTS[:hosts]
        with cluster.hosts(folder, deployment, emulator, database, bucket, names) as running:
            time.sleep(CONNECT_S)
            submitted = audiobatch("submit", str(manifest), "--json", cwd=folder, env=env)
            if submitted.returncode != 0:
                raise SystemExit(f"submit failed: {submitted.stderr[-2000:]}")
            batch = json.loads(submitted.stdout)[0]["id"]
            wait_for_end(running, database, batch, time.monotonic() + 1800)
        served: list[float] = sorted(
            e["at"] for e in httpx.get(f"{emulator}/_emulator/ledger").json()
        )
    return jobs / (served[-1] - served[0] + deployment.latency_ms / 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs-per-host", type=int, default=96)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--worker-concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    deployment = Deployment(
        account_concurrency=ACCOUNT_CONCURRENCY, worker_concurrency=args.worker_concurrency,
        latency_ms=args.latency_ms,
    )  # fmt: skip
    network = Network()
    rates: dict[int, float] = {}
    try:
        network.create(services_addresses=(1, 2, 3, 4))
        with (
            cluster_services(network) as services,
            tempfile.TemporaryDirectory(prefix="audiobatch-cluster-") as folder,
        ):
            cluster = Cluster(network, services, Path(folder))
            for hosts in range(1, len(HOSTS) + 1):
                rates[hosts] = jobs_per_s(cluster, hosts, args.jobs_per_host * hosts, deployment)
                print(f"{hosts} host(s): {rates[hosts]:.2f} jobs/s", flush=True)
    finally:
        network.destroy()
    print(
        f"\naccount concurrency {ACCOUNT_CONCURRENCY}, {args.worker_concurrency} a worker, one "
        f"worker a host, {args.latency_ms} ms a request, {args.jobs_per_host} jobs a host"
    )
    print("hosts | jobs/s | ideal | of ideal | of linear")
    for hosts, rate in rates.items():
        ideal = min(hosts * args.worker_concurrency, ACCOUNT_CONCURRENCY) / (args.latency_ms / 1000)
        linear = rate / (hosts * rates[1])
        print(f"{hosts} | {rate:.2f} | {ideal:.1f} | {rate / ideal:.3f} | {linear:.3f}")


if __name__ == "__main__":
    main()
