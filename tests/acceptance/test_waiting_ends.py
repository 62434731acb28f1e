"""Waiting always ends: `run` and `submit --wait` exit 3 when the account pauses the batch,
saying why and how to go on, with their output piped as in a cron job or a CI step."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.acceptance.cli import (
    AUDIOBATCH,
    audiobatch,
    clean_environment,
    running_emulator,
    start,
    stop,
)
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, TEXT, write_manifest

PAUSED = 3
BOUND_S = 90  # far beyond what the few jobs take: a wait that never ends fails the test
PER_JOB = len(TEXT.format(n=0))


@contextmanager
def a_worker(tmp_path: Path, env: Mapping[str, str]) -> Iterator[None]:
    assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    worker = start("worker", "--concurrency", "2", cwd=tmp_path, env=env, log=tmp_path / "w.log")
    try:
        yield
    finally:
        stop(worker)


def _quota_emulator(tmp_path: Path, jobs: int) -> tuple[str, ...]:
    return ("--latency-ms", "20", "--api-key", KEY, "--quota-chars", str(jobs * PER_JOB))


def test_run_exits_3_when_the_quota_runs_out_and_says_how_to_go_on(tmp_path: Path) -> None:
    with running_emulator(*_quota_emulator(tmp_path, 2), cwd=tmp_path) as emulator_url:
        env = clean_environment(ELEVENLABS_API_KEY=KEY, AUDIOBATCH_API_URL=emulator_url)
        manifest = write_manifest(tmp_path, 6)
        paused = audiobatch(
            "run", str(manifest), "--allow-over", cwd=tmp_path, env=env, timeout_s=BOUND_S
        )
        assert paused.returncode == PAUSED, paused.stdout + paused.stderr
        assert "quota_exceeded" in paused.stdout
        assert "audiobatch resume" in paused.stdout
        assert "\x1b" not in paused.stdout  # piped: plain lines, no control characters
        assert "fleet [" in paused.stdout and "ended" in paused.stdout  # a progress line

        # the continuation it prints works: resume, then the same run again
        httpx.post(f"{emulator_url}/_emulator/quota", params={"chars": 10 * PER_JOB})
        batch_id = json.loads(audiobatch("status", "--json", cwd=tmp_path, env=env).stdout)[0]["id"]
        assert audiobatch("resume", batch_id, cwd=tmp_path, env=env).returncode == 0
        done = audiobatch("run", str(manifest), cwd=tmp_path, env=env, timeout_s=BOUND_S)
        assert done.returncode == 0, done.stdout + done.stderr


def test_submit_wait_exits_3_when_the_quota_runs_out(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    with running_emulator(*_quota_emulator(tmp_path, 2), cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, KEY)
        manifest = write_manifest(tmp_path, 6)
        with a_worker(tmp_path, env):
            waited = audiobatch(
                "submit",
                str(manifest),
                "--wait",
                "--allow-over",
                cwd=tmp_path,
                env=env,
                timeout_s=BOUND_S,
            )
    assert waited.returncode == PAUSED, waited.stdout + waited.stderr
    assert "quota_exceeded" in waited.stdout
    assert "audiobatch resume" in waited.stdout


def test_submit_wait_exits_3_on_an_invalid_key_with_the_reason_beside_the_json(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    with running_emulator("--api-key", KEY, cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, "not-the-key")
        manifest = write_manifest(tmp_path, 3)
        with a_worker(tmp_path, env):
            waited = audiobatch(
                "submit", str(manifest), "--wait", "--json", cwd=tmp_path, env=env,
                timeout_s=BOUND_S,
            )  # fmt: skip
    assert waited.returncode == PAUSED, waited.stdout + waited.stderr
    [report] = json.loads(waited.stdout)
    assert report["status"] == "paused"
    assert "invalid_api_key" in report["reason"]
    assert "invalid_api_key" in waited.stderr
    assert f"audiobatch resume {report['id']}" in waited.stderr


def test_run_ends_saying_so_when_its_local_worker_dies(tmp_path: Path) -> None:
    """The worker `run` started is killed while it renders: `run` does not wait for batches no
    one renders any more; it exits 1 naming the worker's exit and log, and the way to go on."""
    with running_emulator("--latency-ms", "3000", "--api-key", KEY, cwd=tmp_path) as url:
        env = clean_environment(ELEVENLABS_API_KEY=KEY, AUDIOBATCH_API_URL=url)
        manifest = write_manifest(tmp_path, 6)
        run = subprocess.Popen(
            [*AUDIOBATCH, "run", str(manifest)], cwd=tmp_path, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert run.stdout is not None
            started = next(line for line in run.stdout if "Started a local worker" in line)
            worker_pid = int(re.search(r"\(pid (\d+)\)", started).group(1))  # type: ignore[union-attr]
            while not httpx.get(f"{url}/_emulator/stats").json()["in_flight"]:
                time.sleep(0.1)  # it renders
            os.kill(worker_pid, signal.SIGKILL)
            out, said = run.communicate(timeout=BOUND_S)
        finally:
            run.kill()
    assert run.returncode == 1, out + said
    said = " ".join(said.split())
    assert "the local worker stopped (exit code -9) before the batches ended" in said
    assert "worker.log" in said and "run the same `audiobatch run` command again" in said
