"""Chaos on the production stack: workers killed with SIGKILL mid-render, Redis and PostgreSQL
restarted and the object store cut off, while a manifest of mixed kinds renders against a faulty
emulator; then every output is checked against what was served.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import httpx
from sqlalchemy import Engine, Select, create_engine, func, select
from sqlalchemy.exc import OperationalError

from audiobatch.db.models import Artifact, Attempt, Batch, Job, JobStatus
from tests.acceptance.cli import audiobatch, start, stop
from tests.services import PrivatePostgres, PrivateRedis

HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"
FAULTS = "500,503,busy,truncate,disconnect,malformed,empty"  # all but the 2 s slow first byte
T = TypeVar("T")

TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def write_mixed_manifest(folder: Path, dialogues: int, songs: int) -> Path:
    """Dialogues, each with a voice change of its audio; songs, each with its stems."""
    lines = ["batch: chaos", "jobs:"]
    for n in range(dialogues):
        lines += [
            f"  - {{id: d{n}, kind: dialogue, inputs: [{{voice: {HOST}, text: 'Chaos line {n}.'}},"
            f" {{voice: {GUEST}, text: 'Still standing {n}.'}}]}}",
            f"  - {{id: v{n}, kind: voice_change, voice: {GUEST}, source: {{from: d{n}}}}}",
        ]
    for n in range(songs):
        lines += [
            f"  - {{id: m{n}, kind: music, prompt: 'Calm piano, take {n}', music_length_ms: 3000}}",
            f"  - {{id: s{n}, kind: stems, source: {{from: m{n}}}, stem_variation_id: two_stems_v1}}",
        ]
    path = folder / "chaos.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Chaos:
    """Worker processes, some of which get killed; what was done to them."""

    folder: Path
    env: Mapping[str, str]
    database_url: str
    workers: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[int, Path] = field(default_factory=dict)  # each worker's, by pid
    ready_at: dict[int, float] = field(default_factory=dict)  # when each began consuming
    kills: int = 0
    kills_in_flight: int = 0  # jobs that were running in a worker when it was killed
    started: int = 0
    disrupted: list[str] = field(default_factory=list)  # what was done to the stack

    def start_worker(self) -> None:
        log = self.folder / f"worker{self.started}.log"
        process = start("worker", "--concurrency", "6", cwd=self.folder, env=self.env, log=log)
        self.workers[process.pid] = process
        self.logs[process.pid] = log
        self.started += 1

    def kill_one(self, rng: random.Random, settled_s: float) -> bool:
        """Kill a random worker among those that have been consuming for ``settled_s`` at least,
        as long as another one is consuming; False when there is none such. A loaded machine
        starts workers slowly (20 s at a load of 14): killing them before they work, or faster
        than they come up, tests nothing but the machine's speed."""
        now = time.monotonic()
        for pid in self.workers:
            if pid not in self.ready_at and b" ready." in self.logs[pid].read_bytes():
                self.ready_at[pid] = now
        consuming = sorted(pid for pid in self.workers if pid in self.ready_at)
        ready = [pid for pid in consuming if now - self.ready_at[pid] >= settled_s]
        if not ready or len(consuming) < 2:
            return False
        pid = rng.choice(ready)
        process = self.workers.pop(pid)
        process.kill()
        process.wait()
        self.kills += 1
        self.kills_in_flight += running_jobs_of(self.database_url, f"{socket.gethostname()}:{pid}")
        return True

    def stop_all(self) -> None:
        for process in self.workers.values():
            stop(process)
        self.workers.clear()


class PausableProxy:
    """A TCP proxy to ``target`` (host, port) that an outage makes unreachable for a while: every
    open connection is dropped and new ones are refused until it ends."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down_until = 0.0
        threading.Thread(target=self._accept, daemon=True).start()

    def outage(self, seconds: float) -> None:
        with self._lock:
            self._down_until = time.monotonic() + seconds
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            if time.monotonic() < self._down_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def running_jobs_of(database_url: str, process: str) -> int:
    """Jobs running under a worker of ``process`` (``host:pid``; worker ids add a random part)."""
    engine = create_engine(database_url)
    with engine.connect() as db:
        query = select(func.count()).where(
            Job.status == JobStatus.RUNNING, Job.lease_owner.startswith(f"{process}:")
        )
        count = db.scalar(query) or 0
    engine.dispose()
    return count


@dataclass(frozen=True)
class Disruption:
    """Something done to the stack ``after_s`` seconds into the run (``act`` may block)."""

    after_s: float
    what: str
    act: Callable[[], None]


def restart(server: PrivatePostgres | PrivateRedis, down_s: float) -> Callable[[], None]:
    """Stop ``server`` as a crash would, and start it again ``down_s`` later."""

    def act() -> None:
        server.stop()
        time.sleep(down_s)
        server.start()

    return act


def run_with_kills(
    chaos: Chaos,
    manifest: Path,
    workers: int,
    kill_every_s: float,
    timeout_s: float,
    seed: int,
    disruptions: Sequence[Disruption] = (),
) -> tuple[dict[str, Any], float]:
    """Submit ``manifest`` and kill a random worker every ``kill_every_s`` (starting another at
    once) until the batch ends, with ``disruptions`` done to the stack on their way. The batch's
    final report and the wall time."""
    rng = random.Random(seed)
    for _ in range(workers):
        chaos.start_worker()
    started = time.monotonic()
    submitted = audiobatch("submit", str(manifest), "--json", cwd=chaos.folder, env=chaos.env)
    assert submitted.returncode == 0, submitted.stderr
    batch = submitted.stdout.split('"id": "')[1].split('"')[0]
    next_kill = time.monotonic() + kill_every_s
    pending = sorted(disruptions, key=lambda d: d.after_s)
    engine = create_engine(chaos.database_url, connect_args={"connect_timeout": 2})
    batch_status = select(Batch.status).where(Batch.id == batch)
    try:
        # polled straight from SQL (milliseconds, None while the database is down), so that
        # the kills keep their pace
        while (status := _read(engine, batch_status)) not in TERMINAL:
            elapsed = time.monotonic() - started
            assert elapsed < timeout_s, f"batch stuck ({status})"
            if pending and elapsed >= pending[0].after_s:
                disruption = pending.pop(0)
                disruption.act()
                chaos.disrupted.append(disruption.what)
            if time.monotonic() >= next_kill and chaos.kill_one(rng, kill_every_s):
                chaos.start_worker()
                next_kill = time.monotonic() + kill_every_s
            time.sleep(0.2)
        assert not pending, f"the batch ended before {[d.what for d in pending]}"
        seconds = time.monotonic() - started
        # a batch that ends while the store is unreachable gets its results.json at a
        # reconciler pass after the store is back
        deadline = time.monotonic() + 60.0
        while _read(engine, select(Batch.results_at).where(Batch.id == batch)) is None:
            assert time.monotonic() < deadline, f"batch {batch}: results.json never written"
            time.sleep(0.5)
    finally:
        engine.dispose()
    shown = audiobatch("status", batch, "--json", cwd=chaos.folder, env=chaos.env)
    assert shown.returncode == 0, shown.stderr
    report: dict[str, Any] = json.loads(shown.stdout)
    return report, seconds


def _read(engine: Engine, query: Select[T]) -> T | None:
    """The query's one value, or None while the database does not answer."""
    try:
        with engine.connect() as db:
            return db.scalar(query)
    except OperationalError:
        return None


def output_problems(
    database_url: str, s3_endpoint: str, bucket: str, emulator_url: str
) -> tuple[list[str], int]:
    """What is wrong with the stored outputs (empty when nothing), and the generations the
    emulator served beyond one per job.

    Every artifact's object must exist with the recorded sha256; a job's single answer
    (``audio.*``) must be byte for byte what the emulator served for its successful request; the
    batch's folder holds nothing but the artifacts and ``results.json``.
    """
    served = {
        e["request_id"]: e["sha256"] for e in httpx.get(f"{emulator_url}/_emulator/ledger").json()
    }
    engine = create_engine(database_url)
    with engine.connect() as db:
        batch_id, batch_name = db.execute(select(Batch.id, Batch.name)).one()
        jobs = db.scalar(select(func.count()).select_from(Job)) or 0
        rows = db.execute(
            select(Job.key, Artifact.name, Artifact.key, Artifact.sha256, Attempt.request_id)
            .join(Artifact, Artifact.job_id == Job.id)
            .join(Attempt, (Attempt.job_id == Job.id) & (Attempt.outcome == "succeeded"))
        ).all()
    engine.dispose()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    problems = []
    for job, name, key, sha256, request_id in rows:
        stored = hashlib.sha256(
            s3.get_object(Bucket=bucket, Key=f"renders/{key}")["Body"].read()
        ).hexdigest()
        if stored != sha256:
            problems.append(f"{job}/{name}: stored object differs from its record")
        if name.startswith("audio.") and served.get(request_id) != sha256:
            problems.append(f"{job}/{name}: not what the emulator served for {request_id}")
    prefix = f"renders/{batch_name}/{batch_id}/"
    listed = {
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    }
    expected = {f"renders/{key}" for _, _, key, _, _ in rows} | {f"{prefix}results.json"}
    if listed != expected:
        problems.append(f"stray or missing objects: {sorted(listed ^ expected)[:5]}")
    return problems, len(served) - jobs
