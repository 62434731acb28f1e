"""README.md's Python example runs as written against a production deployment: a worker process,
PostgreSQL, a Redis broker, S3 storage and the emulator."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.acceptance.cli import running_emulator
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, two_workers

REPO = Path(__file__).resolve().parents[2]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_example() -> str:
    [example] = PYTHON_BLOCK.findall((REPO / "README.md").read_text())
    return str(example)


def test_the_readme_python_example_submits_waits_and_lists_outputs_that_download(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    with running_emulator("--api-key", KEY, cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, KEY)
        with two_workers(tmp_path, env):
            ran = subprocess.run(
                [sys.executable, "-c", readme_example()],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
    assert ran.returncode == 0, ran.stderr
    first, *outputs = ran.stdout.splitlines()
    assert first == "hello-python succeeded 1"
    assert {line.split()[1] for line in outputs} >= {"audio.mp3"}
    for line in outputs:
        job_id, _, sha256, url = line.split()
        assert job_id == "hello" and url.startswith("http")
        body = httpx.get(url).raise_for_status().content
        assert hashlib.sha256(body).hexdigest() == sha256
