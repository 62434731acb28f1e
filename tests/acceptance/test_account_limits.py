"""The account's limits across a fleet: two worker processes on the production stack.

The limiter keeps the requests in flight at the configured concurrency, however many worker
threads there are; an exhausted quota pauses the batch, and `audiobatch resume` completes it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.acceptance.cli import audiobatch, running_emulator
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, TEXT, batch_status, two_workers, wait_for, write_manifest


def test_two_workers_never_exceed_the_accounts_concurrency_and_keep_it_full(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    # The emulator would take 10 at once: the 3 in flight are the limiter's doing, not its refusals.
    args = ("--concurrency", "10", "--latency-ms", "150", "--api-key", KEY)
    with running_emulator(*args, cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, KEY, AUDIOBATCH_API_CONCURRENCY="3")
        manifest = write_manifest(tmp_path, 30)
        with two_workers(tmp_path, env):
            done = audiobatch("submit", str(manifest), "--wait", "--json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
    assert list(stats["peak_in_flight"].values()) == [3]
    assert stats["too_many_concurrent"] == 0
    assert stats["generations"] == 30


def test_an_exhausted_quota_pauses_the_batch_and_resume_completes_it(
    tmp_path: Path, production_env: ProductionEnv
) -> None:
    per_job = len(TEXT.format(n=0))
    args = ("--concurrency", "2", "--latency-ms", "50", "--api-key", KEY)
    with running_emulator(*args, "--quota-chars", str(5 * per_job), cwd=tmp_path) as emulator_url:
        env = production_env(emulator_url, KEY)
        manifest = write_manifest(tmp_path, 12)
        with two_workers(tmp_path, env):
            submitted = audiobatch(
                "submit", str(manifest), "--json", "--allow-over", cwd=tmp_path, env=env
            )
            assert submitted.returncode == 0, submitted.stderr
            [batch] = json.loads(submitted.stdout)
            paused = wait_for(tmp_path, env, batch["id"], "paused")
            assert "quota_exceeded" in paused["reason"]
            assert paused["counts"]["failed"] == 0
            assert paused["counts"]["paused"] >= 1
            time.sleep(1)  # requests already in flight when the quota ran out end meanwhile
            settled = batch_status(tmp_path, env, batch["id"])
            assert settled["counts"]["succeeded"] == 5
            assert settled["counts"]["paused"] == 7

            httpx.post(f"{emulator_url}/_emulator/quota", params={"chars": 10 * per_job})
            resumed = audiobatch("resume", batch["id"], cwd=tmp_path, env=env)
            assert resumed.returncode == 0, resumed.stderr
            assert "7 job(s) resumed" in resumed.stdout
            done = wait_for(tmp_path, env, batch["id"], "succeeded")
        stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
    assert all(job["attempts"] == 1 for job in done["jobs"])
    assert stats["generations"] == 12
