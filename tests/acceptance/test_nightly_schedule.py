"""A schedule on the production stack: `audiobatch schedule add`, two `audiobatch scheduler`
processes and two workers; its slot fires once and the batch completes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, batch_status, two_workers, write_manifest


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    with running_emulator("--concurrency", "4", "--api-key", KEY, cwd=tmp_path) as url:
        yield url


def schedule_list(tmp_path: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    shown = audiobatch("schedule", "list", "--json", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)
    return rows


def test_a_schedule_fires_once_per_slot_with_two_schedulers_and_its_batch_completes(
    tmp_path: Path, postgres_url: str, emulator_url: str, production_env: ProductionEnv
) -> None:
    env = production_env(emulator_url, KEY, AUDIOBATCH_API_CONCURRENCY="4")
    write_manifest(tmp_path, jobs=3)
    with two_workers(tmp_path, env):
        added = audiobatch(
            "schedule", "add", "every-minute", "--cron", "* * * * *", "--manifest", "fleet.yaml",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        schedulers = [
            start(
                "scheduler",
                "--loglevel",
                "debug",
                cwd=tmp_path,
                env=env,
                log=tmp_path / f"scheduler{i}.log",
            )
            for i in range(2)
        ]
        try:
            deadline = time.monotonic() + 150  # the next minute, a beat interval, the render
            while True:
                [row] = schedule_list(tmp_path, env)
                if row["last_batch"] and row["last_batch"]["status"] == "succeeded":
                    break
                logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
                assert time.monotonic() < deadline, f"{row}\n{logs[-5000:]}"
                time.sleep(1)
        finally:
            for scheduler in schedulers:
                stop(scheduler)

    report = batch_status(tmp_path, env, row["last_batch"]["id"])
    assert report["schedule"] == "every-minute" and report["name"].startswith("fleet-")
    assert report["counts"]["succeeded"] == 3
    libpq = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as connection:
        per_slot = connection.execute(
            "SELECT f.slot_at, count(b.id), count(f.id) FROM schedule_firings f "
            "LEFT JOIN batches b ON b.schedule_id = f.schedule_id AND b.slot_at = f.slot_at "
            "GROUP BY f.slot_at"
        ).fetchall()
        batches = connection.execute("SELECT count(*) FROM batches").fetchone()
    assert per_slot and all(firings == 1 and made <= 1 for _, made, firings in per_slot)
    assert batches is not None and batches[0] == sum(made for _, made, _ in per_slot)
    for log in tmp_path.glob("scheduler*.log"):  # both sent the firing task (a DEBUG line)
        text = log.read_text()
        assert "audiobatch.fire_schedules" in text and "Traceback" not in text
    worker_logs = "".join(p.read_text() for p in tmp_path.glob("w*.log")).splitlines()
    assert len([line for line in worker_logs if "schedule every-minute: slot" in line]) == len(
        per_slot
    )
