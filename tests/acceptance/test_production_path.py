"""The production stack as a user runs it: Redis broker, PostgreSQL, an S3 server, worker processes.

`audiobatch db upgrade`, two `audiobatch worker` processes, the emulator as a separate process, and
`audiobatch submit --wait`: the batch completes and its verified outputs are in the bucket.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    with running_emulator("--concurrency", "3", "--api-key", "prod-test-key", cwd=tmp_path) as url:
        yield url


def test_a_submitted_manifest_completes_on_the_production_stack(
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    emulator_url: str,
    production_env: ProductionEnv,
) -> None:
    env = production_env(emulator_url, "prod-test-key", AUDIOBATCH_API_CONCURRENCY="3")
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")

    refused = audiobatch("submit", "demo.yaml", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "audiobatch db upgrade" in refused.stderr

    upgrade = audiobatch("db", "upgrade", cwd=tmp_path, env=env)
    assert upgrade.returncode == 0, upgrade.stderr

    workers = [
        start(
            "worker", "--concurrency", "4", cwd=tmp_path, env=env, log=tmp_path / f"worker{i}.log"
        )
        for i in range(2)
    ]
    try:
        result = audiobatch("submit", "demo.yaml", "--wait", "--json", cwd=tmp_path, env=env)
    finally:
        for worker in workers:
            stop(worker)
    logs = "".join(p.read_text() for p in tmp_path.glob("worker*.log"))
    assert result.returncode == 0, result.stderr + logs
    assert "prod-test-key" not in result.stdout + result.stderr + logs

    [report] = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for job in report["jobs"]:
        assert job["status"] == "succeeded"
        for output in job["outputs"]:
            assert output["uri"].startswith(
                f"s3://{s3_bucket}/renders/demo/{report['id']}/{job['id']}/"
            )
            key = output["uri"].removeprefix(f"s3://{s3_bucket}/")
            body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
            assert len(body) == output["bytes"]
            assert hashlib.sha256(body).hexdigest() == output["sha256"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert f"renders/demo/{report['id']}/results.json" in keys
