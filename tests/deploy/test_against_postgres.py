"""The parts of the manifests that run against the database, run against a real PostgreSQL: the
query KEDA scales the workers on, and the probe that tells a pod's process is live."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest

from audiobatch.db.migrate import upgrade
from audiobatch.db.models import BatchStatus, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.workers import (
    LIVE_WITHIN_S,
    SCHEDULER,
    WORKER,
    Announcement,
    heartbeat,
    mark_stopped,
)
from tests.acceptance.cli import clean_environment
from tests.deploy.manifests import AUTOSCALED, KUBERNETES, REPO, Object
from tests.services import free_port
from tests.state import add_batch

PROBE = KUBERNETES / "base" / "heartbeat_probe.py"
NEEDS_A_WORKER = {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING}


def libpq(url: str) -> str:
    """The SQLAlchemy URL as KEDA's driver takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.mark.parametrize("kustomization", AUTOSCALED)
def test_the_scaling_query_counts_the_jobs_that_need_a_worker_now(
    rendered: dict[str, list[Object]], kustomization: str, postgres_url: str
) -> None:
    upgrade(postgres_url)
    with session_scope(postgres_url) as session:
        # two of every status, in an ended batch and in a running one
        for batch, status in (("ended", BatchStatus.PARTIAL), ("running", BatchStatus.RUNNING)):
            add_batch(session, batch, status, {f"{s}-{n}": s for s in JobStatus for n in (1, 2)})
    [scaled] = [o for o in rendered[kustomization] if o["kind"] == "ScaledObject"]
    query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    with psycopg.connect(libpq(postgres_url)) as connection:
        [(count,)] = connection.execute(query).fetchall()
    # an integer, as the scaler requires
    assert type(count) is int and count == 2 * 2 * len(NEEDS_A_WORKER)


def probe(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args],
        cwd=REPO,
        env=clean_environment(AUDIOBATCH_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def announce(database_url: str, name: str, host: str, role: str, seen_s_ago: float = 0) -> str:
    me = Announcement(
        id=f"{host}:1:{name}", host=host, pid=1, role=role, queues=[], concurrency=1,
        version="test", started_at=utcnow(),
    )  # fmt: skip
    with session_scope(database_url) as session:
        heartbeat(session, me, [], utcnow() - timedelta(seconds=seen_s_ago))
    return me.id


def test_the_probe_passes_only_while_this_hosts_process_of_its_role_is_live(
    postgres_url: str,
) -> None:
    upgrade(postgres_url)
    here = socket.gethostname()
    announce(postgres_url, "elsewhere", "another-pod", WORKER)
    announce(postgres_url, "silent", here, WORKER, seen_s_ago=LIVE_WITHIN_S + 5)
    stopped = announce(postgres_url, "stopped", here, WORKER)
    with session_scope(postgres_url) as session:
        mark_stopped(session, stopped, utcnow())
    announce(postgres_url, "beat", here, SCHEDULER)

    assert probe(postgres_url, "scheduler").returncode == 0
    no_worker = probe(postgres_url, "worker")
    assert no_worker.returncode == 1
    assert f"no live worker process on {here}" in no_worker.stderr

    announce(postgres_url, "live", here, WORKER)
    assert probe(postgres_url, "worker").returncode == 0


def test_the_liveness_probe_passes_while_the_database_is_away_and_readiness_does_not() -> None:
    away = f"postgresql+psycopg://audiobatch@127.0.0.1:{free_port()}/audiobatch"
    assert probe(away, "worker").returncode == 1
    lenient = probe(away, "worker", "--pass-when-unknown")
    assert lenient.returncode == 0
    assert "heartbeats not read" in lenient.stderr
