"""SIGTERM to a worker: requests in flight finish within the grace period, the rest go back.

One worker with four threads and two limiter slots renders 3-second generations; it is stopped
while two requests are in flight and two jobs wait for a slot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import redis

from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, batch_status, wait_for, write_manifest

STOP_SETTINGS = {"AUDIOBATCH_API_CONCURRENCY": "2"}


def in_flight(emulator_url: str) -> int:
    return sum(httpx.get(f"{emulator_url}/_emulator/stats").json()["in_flight"].values())


def stop_mid_flight(
    tmp_path: Path, env: Mapping[str, str], emulator_url: str
) -> tuple[str, int, float]:
    """Submit 6 jobs, SIGTERM the worker once 2 are in flight: (batch id, exit code, seconds)."""
    assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    worker = start("worker", "--concurrency", "4", cwd=tmp_path, env=env, log=tmp_path / "w0.log")
    submitted = audiobatch(
        "submit", str(write_manifest(tmp_path, 6)), "--json", cwd=tmp_path, env=env
    )
    [batch] = json.loads(submitted.stdout)
    deadline = time.monotonic() + 30
    while in_flight(emulator_url) < 2:
        assert time.monotonic() < deadline, (tmp_path / "w0.log").read_text()
        time.sleep(0.05)
    time.sleep(0.3)  # the other two threads have claimed their jobs and wait for a slot
    stopped = time.monotonic()
    worker.terminate()
    code = worker.wait(30)
    return batch["id"], code, time.monotonic() - stopped


def slots_held(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    return sum(int(client.zcard(key)) for key in client.scan_iter("audiobatch:limiter:*:slots"))


def test_requests_in_flight_finish_and_waiting_jobs_go_back_to_the_queue(
    tmp_path: Path, redis_url: str, production_env: ProductionEnv
) -> None:
    with running_emulator("--latency-ms", "3000", "--api-key", KEY, cwd=tmp_path) as url:
        env = production_env(url, KEY, **STOP_SETTINGS, AUDIOBATCH_SHUTDOWN_GRACE_S="20")
        batch, code, seconds = stop_mid_flight(tmp_path, env, url)
        report = batch_status(tmp_path, env, batch)
    assert code == 0 and seconds < 20, (tmp_path / "w0.log").read_text()  # within the grace
    assert report["counts"]["succeeded"] == 2
    assert report["counts"]["queued"] == 4 and report["counts"]["running"] == 0
    assert slots_held(redis_url) == 0


def test_past_the_grace_period_leases_and_slots_are_given_back_and_another_worker_finishes(
    tmp_path: Path, redis_url: str, production_env: ProductionEnv
) -> None:
    with running_emulator("--latency-ms", "3000", "--api-key", KEY, cwd=tmp_path) as url:
        env = production_env(url, KEY, **STOP_SETTINGS, AUDIOBATCH_SHUTDOWN_GRACE_S="0.5")
        batch, code, seconds = stop_mid_flight(tmp_path, env, url)
        report = batch_status(tmp_path, env, batch)
        assert code == 3 and seconds < 2.5, (tmp_path / "w0.log").read_text()
        assert report["counts"]["queued"] == 6 and report["counts"]["running"] == 0
        assert slots_held(redis_url) == 0

        successor = [
            start("worker", cwd=tmp_path, env=env, log=tmp_path / "w1.log"),
            start("scheduler", cwd=tmp_path, env=env, log=tmp_path / "w2.log"),
        ]
        try:
            done = wait_for(tmp_path, env, batch, "succeeded")
        finally:
            for process in successor:
                stop(process)
    assert {job["status"] for job in done["jobs"]} == {"succeeded"}
