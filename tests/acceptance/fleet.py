"""A fleet as a user runs one: a manifest of N dialogue jobs, worker processes, status polls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.acceptance.cli import audiobatch, start, stop

KEY = "fleet-test-key"
TEXT = "Line number {n:02d} of the fleet test."  # 36 characters a job


def write_manifest(folder: Path, jobs: int) -> Path:
    lines = ["batch: fleet", "voices: {host: JBFqnCBsd6RMkjVDRZzb}", "jobs:"]
    lines += [
        f'  - {{id: j{n:02d}, kind: dialogue, inputs: [{{voice: host, text: "{TEXT.format(n=n)}"}}]}}'
        for n in range(jobs)
    ]
    path = folder / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def two_workers(tmp_path: Path, env: Mapping[str, str]) -> Iterator[None]:
    assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    workers = [
        start("worker", "--concurrency", "4", cwd=tmp_path, env=env, log=tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    try:
        yield
    finally:
        for worker in workers:
            stop(worker)


def batch_status(tmp_path: Path, env: Mapping[str, str], batch: str) -> dict[str, Any]:
    shown = audiobatch("status", batch, "--json", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    report: dict[str, Any] = json.loads(shown.stdout)
    return report


def wait_for(tmp_path: Path, env: Mapping[str, str], batch: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        report = batch_status(tmp_path, env, batch)
        if report["status"] == status:
            return report
        logs = "".join(p.read_text() for p in tmp_path.glob("w*.log"))
        assert time.monotonic() < deadline, f"batch stayed {report['status']}\n{logs}"
        time.sleep(0.5)
