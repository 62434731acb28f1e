"""The image's commands run as the image runs them, without a container engine: the wheel and
the runtime lock installed into an application folder the processes cannot write, an
unprivileged user, the home folder the Dockerfile names, and the compose file's environment and
commands (its service addresses pointed at this machine's servers). Every process comes up, its
healthcheck passes, and a batch renders end to end."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.acceptance.cli import running_emulator
from tests.acceptance.fleet import KEY, write_manifest
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
USER = "nobody"
# the image's Python is the system's, which any user may run (a Python under root's home is not)
PYTHON = "/usr/bin/python3.11" if Path("/usr/bin/python3.11").exists() else sys.executable
SECRETS = {
    "ELEVENLABS_API_KEY": KEY,
    "AUDIOBATCH_DASHBOARD_TOKEN": "dashboard-token",
    "POSTGRES_PASSWORD": "unused",
    "MINIO_PASSWORD": "testing",
}


def image_environment() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile's last stage."""
    last_stage = REPO.joinpath("Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", last_stage, re.MULTILINE):
        env.update(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))
    return env


def interpolated(value: str) -> str:
    """``${NAME:?message}`` and ``${NAME:-default}`` as compose reads them from an .env file."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return SECRETS.get(name, default or "")

    return re.sub(r"\$\{(\w+)(:[-?]([^}]*))?\}", one, value)


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(REPO.joinpath("docker-compose.yml").read_text())[
        "services"
    ][name]
    return found


@pytest.fixture(scope="module")
def application(dist: Path) -> Iterator[Path]:
    """A virtualenv holding the runtime lock and the wheel, as the image installs them, in a
    folder only root may write."""
    folder = Path(tempfile.mkdtemp(prefix="audiobatch-image-"))
    folder.chmod(0o755)
    venv = folder / "app"
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir"]
    lock = REPO / "requirements-runtime.lock"
    subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True, timeout=900)
    wheel = next(dist.glob("audiobatch-*.whl"))
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=300)
    try:
        yield venv
    finally:
        shutil.rmtree(folder)


def as_user(argv: list[str], env: Mapping[str, str], cwd: Path) -> list[str]:
    """``argv`` run by the unprivileged user with exactly ``env``."""
    assignments = [f"{k}={v}" for k, v in env.items()]
    return ["runuser", "-u", USER, "--", "env", "-i", *assignments, *argv]


def test_the_image_runs_as_an_unprivileged_user_on_a_read_only_application(
    application: Path, postgres_url: str, redis_url: str, s3_server: str, s3_bucket: str
) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test runs the processes as another user through runuser: run as root")
    home = Path(tempfile.mkdtemp(prefix="audiobatch-home-"))
    shutil.chown(home, USER)
    work = Path(tempfile.mkdtemp(prefix="audiobatch-work-"))
    work.chmod(0o777)
    image = image_environment()
    assert image["AUDIOBATCH_HOME"].startswith("/var/lib/")
    dashboard_port = free_port()
    with running_emulator("--api-key", KEY, "--latency-ms", "50", cwd=work) as emulator:
        here = {  # the compose file's service addresses, pointed at this machine's servers
            "redis://redis:6379/0": redis_url, "http://minio:9000": s3_server,
            "s3://audiobatch/": f"s3://{s3_bucket}/",
        }  # fmt: skip

        def environment(name: str) -> dict[str, str]:
            env = {k: interpolated(str(v)) for k, v in service(name)["environment"].items()}
            for key in env:
                for theirs, ours in here.items():
                    env[key] = env[key].replace(theirs, ours)
            return (
                image
                | env
                | {
                    "AUDIOBATCH_DATABASE_URL": postgres_url,
                    "PATH": f"{application / 'bin'}:/usr/bin:/bin",
                    "AUDIOBATCH_HOME": str(home),  # the image's volume
                    "AUDIOBATCH_API_URL": emulator,  # the API itself in production
                    "AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "AWS_ACCESS_KEY_ID": "testing",
                }
            )

        def command(name: str) -> list[str]:
            words = [str(w).replace("8000", str(dashboard_port)) for w in service(name)["command"]]
            return ["audiobatch", *words]

        migrated = subprocess.run(
            as_user(command("migrate"), environment("migrate"), work),
            cwd=work, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name in ("worker", "scheduler", "dashboard"):
            with open(work / f"{name}.log", "wb") as log:  # the child keeps its own handle
                processes[name] = subprocess.Popen(
                    as_user(command(name), environment(name), work),
                    cwd=work,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        try:
            for name in processes:
                check = [
                    str(w).replace("8000", str(dashboard_port))
                    for w in service(name)["healthcheck"]["test"][1:]
                ]
                healthy(check, environment(name), work, processes[name])

            manifest = write_manifest(work, 3)
            manifest.chmod(0o644)
            submitted = subprocess.run(
                as_user(["audiobatch", "submit", str(manifest), "--wait", "--json"],
                        environment("worker"), work),
                cwd=work, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert submitted.returncode == 0, submitted.stderr
            [batch] = json.loads(submitted.stdout)
            assert batch["status"] == "succeeded"
            job = batch["jobs"][0]
            output = job["outputs"][0]
            download = httpx.get(
                f"http://127.0.0.1:{dashboard_port}/batches/{batch['id']}/outputs/"
                f"{job['id']}/{output['name']}"
            )
            assert download.status_code == 200  # streamed: browsers cannot reach the store
            assert len(download.content) == output["bytes"]
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
    uid = pwd.getpwnam(USER).pw_uid
    assert not [path for path in application.rglob("*") if path.stat().st_uid == uid]
    assert any(path.stat().st_uid == uid for path in home.iterdir())  # they wrote here
    shutil.rmtree(home)
    shutil.rmtree(work)


def healthy(
    check: list[str], env: Mapping[str, str], cwd: Path, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 90
    while True:
        result = subprocess.run(
            as_user(check, env, cwd), cwd=cwd, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        if result.returncode == 0:
            return
        assert process.poll() is None, f"{check} : the process exited"
        assert time.monotonic() < deadline, f"{check} never passed: {result.stderr}"
        time.sleep(1)
