"""Running ``audiobatch`` as a user does: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

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
