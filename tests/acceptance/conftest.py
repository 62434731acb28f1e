"""Fixtures of the production-stack tests."""

from __future__ import annotations

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
