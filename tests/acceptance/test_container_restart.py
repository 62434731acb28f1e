"""A worker container restarted as containers restart: the same hostname and PID 1 again.

Each worker runs in PID and UTS namespaces of its own (``unshare --pid --uts --fork``), so both
the dead worker and its successor are PID 1 on host ``box``. The successor must not keep the
dead one's job alive: the job's lease runs out, and the job is rendered again and ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from audiobatch.db.models import Attempt, Batch, BatchStatus, Job, JobStatus
from audiobatch.db.session import session_scope
from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import write_manifest

KEY = "restart-test-key"
LEASE_S = 10


def start_in_box(tmp_path: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``audiobatch worker --concurrency 1`` as PID 1 of its own namespaces, on host ``box``."""
    command = [
        "unshare", "--pid", "--uts", "--fork", "--kill-child",
        "sh", "-c", 'hostname box && exec "$0" "$@"',
        sys.executable, "-m", "audiobatch", "worker", "--concurrency", "1",
    ]  # fmt: skip
    with open(log, "ab") as handle:
        return subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="new PID and UTS namespaces need root")
def test_a_worker_restarted_with_the_same_host_and_pid_does_not_adopt_the_dead_one_s_job(
    tmp_path: Path, production_env: ProductionEnv, postgres_url: str
) -> None:
    with running_emulator("--latency-ms", "6000", "--api-key", KEY, cwd=tmp_path) as url:
        env = production_env(url, KEY, AUDIOBATCH_LEASE_S=str(LEASE_S))
        assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
        scheduler = start("scheduler", cwd=tmp_path, env=env, log=tmp_path / "scheduler.log")
        first = start_in_box(tmp_path, env, tmp_path / "w1.log")
        second = None
        try:
            submitted = audiobatch(
                "submit", str(write_manifest(tmp_path, 4)), cwd=tmp_path, env=env
            )
            assert submitted.returncode == 0, submitted.stderr
            job_id, dead = _first_running(postgres_url)
            assert dead.startswith("box:1:")
            first.send_signal(signal.SIGKILL)  # --kill-child takes the worker down with it
            first.wait()
            killed_at = time.monotonic()
            second = start_in_box(tmp_path, env, tmp_path / "w2.log")

            while _job(postgres_url, job_id).lost_leases == 0:
                assert time.monotonic() - killed_at < LEASE_S + 15, "the dead worker's job is kept"
                time.sleep(0.2)
            deadline = time.monotonic() + 120
            while _batch_status(postgres_url) is not BatchStatus.SUCCEEDED:
                assert time.monotonic() < deadline, _batch_status(postgres_url)
                time.sleep(0.5)
        finally:
            for process in (first, second, scheduler):
                if process is not None:
                    stop(process)
    with session_scope(postgres_url) as session:
        workers = set(
            session.scalars(
                select(Attempt.worker).where(
                    Attempt.job_id == job_id, Attempt.outcome == "succeeded"
                )
            )
        )
        assert session.get_one(Job, job_id).status is JobStatus.SUCCEEDED
    [successor] = workers
    assert successor.startswith("box:1:") and successor != dead


def _first_running(url: str) -> tuple[int, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            row = session.execute(
                select(Job.id, Job.lease_owner).where(Job.status == JobStatus.RUNNING)
            ).first()
        if row is not None and row.lease_owner:
            time.sleep(1)  # well into its request
            return row.id, row.lease_owner
        time.sleep(0.1)
    raise AssertionError("no job started within 60 s")


def _job(url: str, job_id: int) -> Job:
    with session_scope(url) as session:
        return session.get_one(Job, job_id)


def _batch_status(url: str) -> BatchStatus:
    with session_scope(url) as session:
        return session.scalars(select(Batch.status)).one()
