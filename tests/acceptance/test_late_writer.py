"""A worker frozen (SIGSTOP) mid-request past its lease, on one host, while a worker on another
host takes the job over and commits its output; then the first wakes up (SIGCONT). Each host has
its own AUDIOBATCH_HOME (its own spool); they share the database, the broker and the store."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx
import pytest
from sqlalchemy import create_engine, select

from audiobatch.db.models import Artifact, Attempt
from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY, wait_for, write_manifest

LEASE_S = "2"
LATENCY_MS = "3000"  # the frozen worker's request is still in flight when it is stopped


def in_flight(emulator_url: str) -> int:
    return sum(httpx.get(f"{emulator_url}/_emulator/stats").json()["in_flight"].values())


def attempts(database_url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(database_url)
    with engine.connect() as db:
        rows = db.execute(select(Attempt.worker, Attempt.outcome, Attempt.request_id)).all()
    engine.dispose()
    return sorted((worker, outcome, request_id) for worker, outcome, request_id in rows)


def until(check: Callable[[], bool], what: str, logs: Path, timeout_s: float = 60) -> None:
    """Wait until ``check()`` is true."""
    deadline = time.monotonic() + timeout_s
    while not check():
        text = "".join(p.read_text() for p in logs.glob("*.log"))
        assert time.monotonic() < deadline, f"{what} did not happen\n{text[-4000:]}"
        time.sleep(0.1)


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            os.kill(process.pid, signal.SIGCONT)  # a stopped process cannot stop
            stop(process)


def identity(store: str, tmp_path: Path, s3_server: str, bucket: str, key: str) -> object:
    """What changes if the object at ``key`` is ever replaced: the file's inode and time, or
    the versions S3 keeps of the key (the test bucket keeps every version)."""
    if store == "local":
        info = (tmp_path / "shared" / key).stat()
        return info.st_ino, info.st_mtime_ns
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    listed = s3.list_object_versions(Bucket=bucket, Prefix=f"renders/{key}")
    return [v["VersionId"] for v in listed.get("Versions", [])]


def stored(store: str, tmp_path: Path, s3_server: str, bucket: str, key: str) -> bytes:
    if store == "local":
        return (tmp_path / "shared" / key).read_bytes()
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    return bytes(s3.get_object(Bucket=bucket, Key=f"renders/{key}")["Body"].read())


@pytest.mark.parametrize("store", ["local", "s3"])
def test_a_worker_frozen_past_its_lease_never_replaces_the_output_another_committed(
    tmp_path: Path,
    production_env: ProductionEnv,
    postgres_url: str,
    s3_server: str,
    s3_bucket: str,
    store: str,
) -> None:
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").put_bucket_versioning(
        Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    with running_emulator("--latency-ms", LATENCY_MS, "--api-key", KEY, cwd=tmp_path) as url:
        env = production_env(url, KEY, AUDIOBATCH_LEASE_S=LEASE_S)
        if store == "local":
            env["AUDIOBATCH_STORAGE_URL"] = f"file://{tmp_path / 'shared'}"
        host_a = env | {"AUDIOBATCH_HOME": str(tmp_path / "host-a")}
        host_b = env | {"AUDIOBATCH_HOME": str(tmp_path / "host-b")}
        assert audiobatch("db", "upgrade", cwd=tmp_path, env=host_a).returncode == 0
        with processes() as started:
            frozen = start("worker", "-c", "1", cwd=tmp_path, env=host_a, log=tmp_path / "a.log")
            started.append(frozen)
            submitted = audiobatch(
                "submit", str(write_manifest(tmp_path, 1)), "--json", cwd=tmp_path, env=host_a
            )
            [batch] = json.loads(submitted.stdout)
            until(lambda: in_flight(url) == 1, "the request of host a", tmp_path)
            os.kill(frozen.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            for name in ("worker", "scheduler"):
                log = tmp_path / f"b-{name}.log"
                started.append(start(name, cwd=tmp_path, env=host_b, log=log))
            wait_for(tmp_path, host_b, batch["id"], "succeeded")
            engine = create_engine(postgres_url)
            with engine.connect() as db:
                [(key, sha256, size)] = db.execute(
                    select(Artifact.key, Artifact.sha256, Artifact.bytes)
                ).all()
            engine.dispose()
            committed = identity(store, tmp_path, s3_server, s3_bucket, key)
            frozen_s = time.monotonic() - stopped
            os.kill(frozen.pid, signal.SIGCONT)
            until(lambda: len(attempts(postgres_url)) == 2, "the end of host a's attempt", tmp_path)
        ledger = httpx.get(f"{url}/_emulator/ledger").json()
        verified = audiobatch("verify", batch["id"], "--json", cwd=tmp_path, env=host_b)
    served = {entry["request_id"]: entry["sha256"] for entry in ledger}
    [(loser, lost, _), (winner, won, request_id)] = sorted(
        attempts(postgres_url), key=lambda a: a[1]
    )
    data = stored(store, tmp_path, s3_server, s3_bucket, key)
    assert frozen_s > float(LEASE_S) * 2
    assert (lost, won) == ("abandoned", "succeeded")
    assert loser != winner
    assert len(ledger) == 2  # both workers were served a generation
    assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256)
    assert served[request_id] == sha256  # the row holds the winner's generation
    assert identity(store, tmp_path, s3_server, s3_bucket, key) == committed  # never replaced
    assert "lease lost" in (tmp_path / "a.log").read_text()
    assert verified.returncode == 0, verified.stdout  # nothing missing, changed or stray
