"""`make demo` (the built-in emulator), then the same manifest with a real key: the real API is
called for every job, nothing of the emulator's audio is reused; the same key again reuses it all.

The "real API" is an emulator started with ``--no-identify``: it answers without the header that
names an emulator, as the real API does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.cli import audiobatch, clean_environment, running_emulator

REPO = Path(__file__).resolve().parents[2]
REAL_KEY = "sk_real_account_key_0123456789"


def run(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    result = audiobatch("run", "demo.yaml", "--json", cwd=workdir, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    return dict(report)


def cached(report: dict[str, Any]) -> list[bool]:
    return [job["cached"] for job in report["jobs"]]


def test_a_real_key_after_the_demo_calls_the_api_and_the_same_key_again_reuses(
    tmp_path: Path,
) -> None:
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
    demo = run(tmp_path, clean_environment())  # no key: the built-in emulator
    with running_emulator("--no-identify", cwd=tmp_path) as api_url:
        real_env = clean_environment(ELEVENLABS_API_KEY=REAL_KEY, AUDIOBATCH_API_URL=api_url)
        real = run(tmp_path, real_env)
        calls_after_real = len(httpx.get(f"{api_url}/_emulator/ledger").json())
        again = run(tmp_path, real_env)
        calls_after_again = len(httpx.get(f"{api_url}/_emulator/ledger").json())
    jobs = len(demo["jobs"])
    assert jobs > 0 and real["id"] != demo["id"] != again["id"]
    assert (demo["backend"], cached(demo)) == ("emulator", [False] * jobs)
    # the bug: every job came back cached with the emulator's audio, the API never called
    assert (real["backend"], cached(real), calls_after_real) == (api_url, [False] * jobs, jobs)
    # nothing paid twice: the same API and key reuse what they rendered
    assert (again["backend"], cached(again), calls_after_again) == (api_url, [True] * jobs, jobs)

    env = clean_environment()
    status = audiobatch("status", demo["id"], cwd=tmp_path, env=env)
    assert "backend: emulator" in status.stdout
    listing = json.loads(audiobatch("status", "--json", cwd=tmp_path, env=env).stdout)
    assert [b["backend"] for b in listing] == [api_url, api_url, "emulator"]
    rows = json.loads(audiobatch("jobs", demo["id"], "--json", cwd=tmp_path, env=env).stdout)
    assert {row["backend"] for row in rows} == {"emulator"}
    results = tmp_path / "renders" / "demo" / demo["id"] / "results.json"
    assert json.loads(results.read_text())["backend"] == "emulator"
