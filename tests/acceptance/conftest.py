"""Fixtures of the production-stack tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.cli import production_environment

ProductionEnv = Callable[..., dict[str, str]]


@pytest.fixture
def production_env(
    tmp_path: Path, postgres_url: str, redis_url: str, s3_server: str, s3_bucket: str
) -> ProductionEnv:
    """``production_env(emulator_url, api_key, **variables)``: the environment of a production
    deployment on this test's PostgreSQL database, Redis and S3 bucket; ``variables`` set or
    override its variables."""

    def environment(emulator_url: str, api_key: str, **values: str) -> dict[str, str]:
        env = production_environment(
            tmp_path,
            api_key=api_key,
            emulator_url=emulator_url,
            postgres_url=postgres_url,
            redis_url=redis_url,
            s3_server=s3_server,
            s3_bucket=s3_bucket,
        )
        return env | values

    return environment


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the sdist and wheel that ``python -m build`` makes of the repository."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out
