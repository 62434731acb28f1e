"""Running ``audiobatch`` as a user does: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.services import free_port

AUDIOBATCH = [sys.executable, "-m", "audiobatch"]


def clean_environment(**values: str) -> dict[str, str]:
    """The parent's environment without any audiobatch or ElevenLabs settings, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUDIOBATCH_", "ELEVENLABS_", "AWS_"))
    }
    env.update(values)
    return env


def audiobatch(
    *args: str, cwd: Path, env: Mapping[str, str], timeout_s: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUDIOBATCH, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def start(*args: str, cwd: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running command (worker, emulator) with its output in ``log``."""
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [*AUDIOBATCH, *args], cwd=cwd, env=dict(env), stdout=handle, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes], grace_s: float = 15) -> None:
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_emulator(*args: str, cwd: Path) -> Iterator[str]:
    """``audiobatch emulator ARGS`` as its own process on a free port; its URL once it answers."""
    port, log = free_port(), cwd / "emulator.log"
    process = start(
        "emulator", "--port", str(port), *args, cwd=cwd, env=clean_environment(), log=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_emulator/stats", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield url
    finally:
        stop(process)


def production_environment(
    tmp_path: Path, *, api_key: str, emulator_url: str, postgres_url: str, redis_url: str,
    s3_server: str, s3_bucket: str, **values: str,
) -> dict[str, str]:  # fmt: skip
    """The environment of a production deployment: PostgreSQL, Redis broker, S3 storage."""
    return clean_environment(
        ELEVENLABS_API_KEY=api_key,
        AUDIOBATCH_API_URL=emulator_url,
        AUDIOBATCH_DATABASE_URL=postgres_url,
        AUDIOBATCH_BROKER_URL=redis_url,
        AUDIOBATCH_STORAGE_URL=f"s3://{s3_bucket}/renders",
        AUDIOBATCH_HOME=str(tmp_path / "home"),
        AWS_ENDPOINT_URL=s3_server,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        **values,
    )
