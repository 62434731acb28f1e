"""At INFO, a scheduler and a worker log nothing for the periodic tasks that run every 15 s."""

from __future__ import annotations

import time
from pathlib import Path

from audiobatch.broker import SCHEDULES_INTERVAL_S, SCHEDULES_TASK
from tests.acceptance.cli import clean_environment, start, stop

SENDING = "DEBUG celery.beat: Scheduler: Sending"


def wait_for(log: Path, text: str, times: int, timeout_s: float) -> None:
    """Wait until ``text`` is in ``log`` ``times`` times."""
    deadline = time.monotonic() + timeout_s
    while log.read_text().count(text) < times:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def test_a_scheduler_and_a_worker_at_info_log_no_line_per_tick(tmp_path: Path) -> None:
    env = clean_environment()
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "scheduler", "witness")}
    processes = [
        start("worker", cwd=tmp_path, env=env, log=logs["worker"]),
        start("scheduler", cwd=tmp_path, env=env, log=logs["scheduler"]),
        # a second scheduler at DEBUG shows when the periodic tasks have been sent
        start("scheduler", "--loglevel", "debug", cwd=tmp_path, env=env, log=logs["witness"]),
    ]
    try:
        wait_for(logs["worker"], "ready.", 1, timeout_s=120)  # a loaded machine starts slowly
        # a tick sent once the worker consumes, which it receives and runs
        sent = logs["witness"].read_text().count(SENDING)
        wait_for(logs["witness"], SENDING, sent + 1, timeout_s=SCHEDULES_INTERVAL_S + 30)
        time.sleep(3)  # the other scheduler's tick, the worker receiving and running them
    finally:
        for process in processes:
            stop(process)
    worker, scheduler = logs["worker"].read_text(), logs["scheduler"].read_text()
    assert "beat: Starting" in scheduler and "ready." in worker
    for text in (worker, scheduler):  # the worker's banner lists its tasks: log lines only
        lines = [line for line in text.splitlines() if " INFO " in line or " DEBUG " in line]
        assert [line for line in lines if SCHEDULES_TASK in line or " DEBUG " in line] == []
