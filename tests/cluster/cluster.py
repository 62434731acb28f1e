"""A batch rendered by three hosts while one of them suffers a fault, and what is checked after.

Each host runs a worker and a scheduler; the test (in the root namespace) submits, waits for the
host at fault to hold running jobs, counts them (the generations a fault may cost), does the
fault, undoes it after a while (unless it is for good), and waits for the batch to end, as the
hosts' supervisors restart whatever exits.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from audiobatch.db.models import Batch
from tests.acceptance.chaos import TERMINAL, output_problems, running_jobs_of, write_mixed_manifest
from tests.acceptance.cli import audiobatch, production_environment
from tests.cluster.hosts import Host
from tests.cluster.network import Network
from tests.cluster.services import (
    EMULATOR_PORT,
    POSTGRES_PORT,
    RABBIT_PORT,
    REDIS_PORT,
    S3_PORT,
    Services,
)

CLOCK_OFF = Path(__file__).parent / "clock_off"
KEY = "cluster-test-key"
HOSTS = ("h1", "h2", "h3")
LEASE_S = 4.0


@dataclass(frozen=True)
class Fault:
    """Done to one host once it holds running jobs; ``end`` (if any) undoes it ``lasts_s`` later."""

    what: str
    begin: Callable[[Host], None]
    end: Callable[[Host], None] | None = None
    lasts_s: float = 0.0


@dataclass(frozen=True)
class Deployment:
    """How the hosts are set up: the broker, the account and the workers."""

    broker: str = "redis"  # or "rabbitmq"
    account_concurrency: int = 12
    worker_concurrency: int = 4
    latency_ms: int = 1000
    slow_host: str | None = None  # reaches the services through the delaying proxy
    clock_off_s: Mapping[str, float] = field(default_factory=dict)  # hosts' clocks, this far off


@dataclass
class Outcome:
    """What a scenario ended with."""

    report: dict[str, Any]
    in_flight: int  # jobs running on the host at fault once the fault began
    extra_generations: int  # generations the emulator served beyond one a job
    problems: list[str]  # stored objects that differ from what won, stray or missing ones
    checked: str  # `audiobatch check --objects`: "" when clean, else its output
    verified: str  # `audiobatch verify BATCH`: "" when clean, else its output
    restarts: int  # processes the hosts' supervisors started again
    seconds: float
    logs: str = field(repr=False, default="")


@dataclass
class Cluster:
    """The network and its services, shared by the scenarios of one run."""

    network: Network
    services: Services
    folder: Path

    def environment(self, home: Path, deployment: Deployment, emulator: str, database: str,
                    bucket: str, slow: bool = False) -> dict[str, str]:  # fmt: skip
        """A host's production environment (every address through the proxy when ``slow``)."""
        at = self.services.url
        emulator_url = f"http://{at(EMULATOR_PORT, slow)}" if slow else emulator
        redis_url = f"redis://{at(REDIS_PORT, slow)}/0"
        broker = (
            f"amqp://guest:guest@{at(RABBIT_PORT, slow)}//"
            if deployment.broker == "rabbitmq"
            else redis_url
        )
        database = database.replace(at(POSTGRES_PORT), at(POSTGRES_PORT, slow))
        return production_environment(
            home, api_key=KEY, emulator_url=emulator_url, postgres_url=database,
            redis_url=broker, s3_server=f"http://{at(S3_PORT, slow)}", s3_bucket=bucket,
            AUDIOBATCH_REDIS_URL=redis_url, AUDIOBATCH_LEASE_S=str(LEASE_S),
            AUDIOBATCH_MAX_LOST_LEASES="20", AUDIOBATCH_REPUBLISH_AFTER_S="10",
            AUDIOBATCH_API_CONCURRENCY=str(deployment.account_concurrency),
            AUDIOBATCH_MUSIC_CONCURRENCY=str(deployment.account_concurrency),
        )  # fmt: skip

    @contextmanager
    def hosts(self, folder: Path, deployment: Deployment, emulator: str, database: str,
              bucket: str, names: tuple[str, ...] = HOSTS) -> Iterator[list[Host]]:  # fmt: skip
        """``names`` running a worker each, the last also the scheduler; stopped afterwards."""
        worker = (
            "worker",
            "--concurrency",
            str(deployment.worker_concurrency),
            "--loglevel",
            "WARNING",
        )
        hosts = []
        for name in names:
            if name not in self.network.hosts:
                self.network.add_host(name)
            home = folder / name
            env = self.environment(
                home, deployment, emulator, database, bucket, name == deployment.slow_host
            )
            prefix = self.network.in_namespace(self.network.namespace(name), hostname=name)
            if name in deployment.clock_off_s:
                prefix += off_clock(deployment.clock_off_s[name])
            # one scheduler, on a host no scenario strikes (there may be more; one is enough)
            scheduler = [("scheduler", "--loglevel", "WARNING")] if name == names[-1] else []
            hosts.append(Host(name, prefix, home, env, [worker, *scheduler]))
        try:
            for host in hosts:
                host.start()
            yield hosts
        finally:
            for host in hosts:
                host.stop()
            for host in hosts:
                host.wait()


def off_clock(seconds: float) -> list[str]:
    """A prefix that runs a Python program with its host's wall clock ``seconds`` ahead (behind,
    when negative): see ``clock_off/sitecustomize.py``."""
    path = os.pathsep.join(filter(None, [str(CLOCK_OFF), os.environ.get("PYTHONPATH")]))
    return ["env", f"PYTHONPATH={path}", f"CLOCK_OFF_S={seconds}"]


def run_scenario(cluster: Cluster, folder: Path, fault: Fault, deployment: Deployment = Deployment(),
                 dialogues: int = 12, songs: int = 2, timeout_s: float = 150.0) -> Outcome:  # fmt: skip
    """Render a mixed batch on three hosts while ``fault`` strikes the first; what it ended with."""
    services = cluster.services
    database, bucket = services.fresh_database(), services.fresh_bucket()
    services.flushed_redis()
    emulator_args = (
        "--concurrency", str(deployment.account_concurrency), "--music-concurrency",
        str(deployment.account_concurrency), "--latency-ms", str(deployment.latency_ms), "--api-key", KEY,
    )  # fmt: skip
    with services.emulator(*emulator_args) as emulator:
        env = cluster.environment(folder / "submitter", deployment, emulator, database, bucket)
        upgraded = audiobatch("db", "upgrade", cwd=folder, env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        with cluster.hosts(folder, deployment, emulator, database, bucket) as hosts:
            started = time.monotonic()
            manifest = write_mixed_manifest(folder, dialogues, songs)
            submitted = audiobatch("submit", str(manifest), "--json", cwd=folder, env=env)
            assert submitted.returncode == 0, submitted.stderr
            batch = json.loads(submitted.stdout)[0]["id"]
            in_flight = _strike(hosts, fault, database, started + timeout_s)
            wait_for_end(hosts, database, batch, started + timeout_s)
            seconds = time.monotonic() - started
        logs = "".join(host.logs() for host in hosts)
        report = json.loads(audiobatch("status", batch, "--json", cwd=folder, env=env).stdout)
        problems, extra = output_problems(database, env["AWS_ENDPOINT_URL"], bucket, emulator)
    checked = audiobatch("check", "--objects", cwd=folder, env=env)
    verified = audiobatch("verify", batch, cwd=folder, env=env)
    return Outcome(
        report, in_flight, extra, problems,
        "" if checked.returncode == 0 else checked.stdout + checked.stderr,
        "" if verified.returncode == 0 else verified.stdout + verified.stderr,
        sum(host.restarts for host in hosts), seconds, logs,
    )  # fmt: skip


def _strike(hosts: list[Host], fault: Fault, database: str, deadline: float) -> int:
    """Do ``fault`` to the first host once it holds running jobs (undo it when it ends); how many
    it held."""
    target = hosts[0]
    while running_jobs_of(database, target.name) == 0:
        assert time.monotonic() < deadline, "no job started on the host at fault"
        _supervise(hosts)
        time.sleep(0.1)
    fault.begin(target)
    # counted once struck: a host lost or cut off starts no job after that
    in_flight = running_jobs_of(database, target.name)
    if fault.end is not None:
        ends_at = time.monotonic() + fault.lasts_s
        while time.monotonic() < ends_at:
            _supervise(hosts)
            time.sleep(0.2)
        fault.end(target)
    return in_flight


def wait_for_end(hosts: list[Host], database: str, batch: str, deadline: float) -> None:
    """Until the batch has ended and its results.json is written."""
    engine = create_engine(database)
    query = select(Batch.status, Batch.results_at).where(Batch.id == batch)
    try:
        while True:
            with engine.connect() as db:
                status, results_at = db.execute(query).one()
            if status in TERMINAL and results_at is not None:
                return
            logs = "".join(host.logs() for host in hosts)
            assert time.monotonic() < deadline, f"batch stuck ({status})\n{logs}"
            _supervise(hosts)
            time.sleep(0.3)
    finally:
        engine.dispose()


def _supervise(hosts: list[Host]) -> None:
    for host in hosts:
        host.supervise()
