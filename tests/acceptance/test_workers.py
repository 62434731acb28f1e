"""Workers announce themselves: heartbeats in SQL, `audiobatch workers`, and the warning given
when a batch waits on queues no live worker serves."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from audiobatch.db.workers import LIVE_WITHIN_S
from audiobatch.render.families import QUEUES
from tests.acceptance.cli import (
    AUDIOBATCH,
    audiobatch,
    clean_environment,
    running_emulator,
    start,
    stop,
)
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, write_manifest

WORKER_FIELDS = {
    "id", "host", "pid", "role", "queues", "concurrency", "jobs_in_hand", "version",
    "started_at", "last_seen_at", "stopped_at", "live", "state",
}  # fmt: skip


def listed(tmp_path: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every process on record, live or not."""
    shown = audiobatch("workers", "--json", "--all", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)
    return rows


def until(
    tmp_path: Path, env: Mapping[str, str], found: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + LIVE_WITHIN_S + 45
    while True:
        rows = listed(tmp_path, env)
        if found(rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)


def of_pid(rows: list[dict[str, Any]], pid: int) -> dict[str, Any] | None:
    return next((row for row in rows if row["pid"] == pid), None)


def test_workers_and_schedulers_announce_themselves_and_go_non_live_when_killed(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    with running_emulator("--latency-ms", "60000", "--api-key", KEY, cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, KEY)
        assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
        assert listed(tmp_path, env) == []
        killed = start("worker", "-c", "3", cwd=tmp_path, env=env, log=tmp_path / "w1.log")
        stopped = start("worker", "-Q", "music", cwd=tmp_path, env=env, log=tmp_path / "w2.log")
        scheduler = start("scheduler", cwd=tmp_path, env=env, log=tmp_path / "s.log")
        try:
            rows = until(tmp_path, env, lambda rows: sum(row["live"] for row in rows) == 3)
            assert all(set(row) == WORKER_FIELDS and row["state"] == "live" for row in rows)
            first = of_pid(rows, killed.pid)
            assert first is not None
            assert (first["role"], first["queues"], first["concurrency"]) == (
                "worker", list(QUEUES), 3,
            )  # fmt: skip
            assert first["id"].startswith(f"{first['host']}:{killed.pid}:")
            assert first["version"] and first["stopped_at"] is None
            music = of_pid(rows, stopped.pid)
            assert music is not None and music["queues"] == ["music"]
            beat = of_pid(rows, scheduler.pid)
            assert beat is not None and beat["role"] == "scheduler"

            # a job rendering (60 s at the emulator: seen between heartbeats on a loaded machine) is
            # in its worker's hands
            manifest = write_manifest(tmp_path, 1)
            assert audiobatch("submit", str(manifest), cwd=tmp_path, env=env).returncode == 0
            until(
                tmp_path, env, lambda rows: bool((of_pid(rows, killed.pid) or {})["jobs_in_hand"])
            )

            stop(stopped)  # a clean stop says so at once
            rows = listed(tmp_path, env)
            gone = of_pid(rows, stopped.pid)
            assert gone is not None and gone["stopped_at"] is not None and not gone["live"]
            assert gone["state"] == "stopped"

            killed.send_signal(signal.SIGKILL)
            killed.wait()
            rows = until(tmp_path, env, lambda rows: not (of_pid(rows, killed.pid) or {})["live"])
            assert (of_pid(rows, killed.pid) or {})["state"] == "gone"
            live = audiobatch("workers", "--json", cwd=tmp_path, env=env)
            assert [row["pid"] for row in json.loads(live.stdout)] == [scheduler.pid]
            # a container's healthcheck: a live process of the role on this host, or exit 1
            healthy = audiobatch("workers", "--here", "--role", "scheduler", cwd=tmp_path, env=env)
            assert healthy.returncode == 0, healthy.stderr
            sick = audiobatch("workers", "--here", "--role", "worker", cwd=tmp_path, env=env)
            assert sick.returncode == 1
            assert "no live worker on this host" in sick.stderr
        finally:
            for process in (killed, stopped, scheduler):
                stop(process)

    text = audiobatch("workers", "--all", cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    assert "gone" in text.stdout and "stopped" in text.stdout
    assert max(len(line) for line in text.stdout.splitlines()) <= 80


def test_submit_wait_without_a_live_worker_warns_at_once(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    env = production_env("http://127.0.0.1:9", KEY)
    assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    manifest = write_manifest(tmp_path, 2)
    errors = tmp_path / "stderr.txt"
    with open(errors, "wb") as stderr:
        waiting = subprocess.Popen(
            [*AUDIOBATCH, "submit", str(manifest), "--wait"], cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30  # a cold start of the CLI, not a heartbeat's wait
        while "no live worker" not in errors.read_text():
            assert waiting.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, errors.read_text()
            time.sleep(0.2)
    finally:
        stop(waiting)
    warning = errors.read_text()
    assert "dialogue" in warning
    assert "audiobatch worker" in warning


def test_submit_without_wait_warns_when_no_live_worker_would_render_the_batch(
    tmp_path: Path,
) -> None:
    env = clean_environment(AUDIOBATCH_HOME=str(tmp_path / "home"))
    submitted = audiobatch("submit", str(write_manifest(tmp_path, 1)), cwd=tmp_path, env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert "submitted batch fleet" in submitted.stdout
    assert "no live worker serves the queue(s) dialogue" in submitted.stderr
    assert "`audiobatch worker` (or use `audiobatch run`" in submitted.stderr
