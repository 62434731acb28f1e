"""Memory: a worker's RSS while it streams one large API answer into S3 (bound: +30 MB).

Starts what it needs: moto's S3 server and a stand-in for the API (a tiny HTTP server whose
``POST /v1/music`` streams as many bytes as the prompt asks for: real endpoints never answer
500 MB), each in a process of its own. Each run submits a manifest of two music jobs
(``output_format: pcm_44100``) to a fresh SQLite database, then runs them through the worker's
code path (``build_runtime`` + ``run_job``: claim, httpx stream, S3 upload, read-back verification,
SQL) in a fresh child process. The first job (1 MB, one PutObject) warms the worker up; the
child's RSS is sampled every 50 ms while the large one runs, and the kernel's high-water mark is
read at the end. The stored object's size and sha256, as recorded and as read back from S3, are
checked against what the stand-in sent.

    .venv/bin/python bench/memory.py [--mb 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.config import Settings
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Artifact, Job, JobStatus
from audiobatch.db.session import dispose_engines, session_scope
from audiobatch.manifest import load_manifests
from audiobatch.render.runner import run_job
from audiobatch.submission import submit_manifests
from audiobatch.worker.runtime import build_runtime
from tests import services

BOUND_MB = 30.0
MB = 1 << 20
# Below one multipart part: the part buffers are first allocated during the measured job, so they
# count in its growth rather than hiding in the baseline.
WARM_UP_BYTES = MB
SAMPLE_S = 0.05
BUCKET, PREFIX = "memory-bench", "renders"
FORMAT = "pcm_44100"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SPAWN = get_context("spawn")


def noise(nbytes: int) -> Iterator[bytes]:
    """Deterministic bytes, 1 MB at a time, each block numbered so misplaced parts show."""
    pattern = random.Random(7).randbytes(MB)
    for start in range(0, nbytes, MB):
        yield (start.to_bytes(8, "big") + pattern[8:])[: nbytes - start]


class StandIn(BaseHTTPRequestHandler):
    """``POST /v1/music?output_format=pcm_44100`` with prompt "N bytes": N bytes of noise."""

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if url.path != "/v1/music" or parse_qs(url.query).get("output_format") != [FORMAT]:
            self.send_error(404)
            return
        nbytes = int(body["prompt"].split()[0])
        self.send_response(200)
        self.send_header("content-type", "audio/pcm")
        self.send_header("content-length", str(nbytes))
        self.send_header("request-id", f"bench-{nbytes}")
        self.end_headers()
        for block in noise(nbytes):
            self.wfile.write(block)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_stand_in(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), StandIn).serve_forever()


def wait_for_port(port: int, name: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start on port {port}")
        time.sleep(0.05)


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """moto's S3 server and the API stand-in, each in its own process: their URLs."""
    s3_port, api_port = services.free_port(), services.free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stand_in = SPAWN.Process(target=serve_stand_in, args=(api_port,), daemon=True)
    stand_in.start()
    try:
        wait_for_port(s3_port, "moto_server")
        wait_for_port(api_port, "the API stand-in")
        yield f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{api_port}"
    finally:
        stand_in.terminate()
        moto.terminate()
        moto.wait()


def worker(conn: Connection, env: dict[str, str], job_ids: list[int]) -> None:
    """The measured process: a worker's runtime, one warm-up job, then the large job."""
    for name in [n for n in os.environ if n.startswith(("AUDIOBATCH_", "AWS_", "ELEVENLABS_"))]:
        del os.environ[name]
    os.environ.update(env)
    rt = build_runtime(Settings(), publish=lambda wakeups: None)
    warm_up, large = job_ids
    run_job(warm_up, rt)
    conn.send("warm")
    conn.recv()
    run_job(large, rt)
    conn.send("done")


def proc_status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def rss_mb(pid: int) -> float:
    return proc_status_kb(pid, "VmRSS") / 1024


def sample(pid: int) -> float:
    """The RSS after one sampling interval."""
    time.sleep(SAMPLE_S)
    return rss_mb(pid)


@dataclass(frozen=True)
class Run:
    baseline_mb: float
    peak_mb: float  # the largest 50 ms sample
    high_water_mb: float  # the kernel's peak since the baseline, spikes between samples included
    seconds: float

    @property
    def growth_mb(self) -> float:
        return max(self.peak_mb, self.high_water_mb) - self.baseline_mb


def submit(folder: Path, database: str, nbytes: int) -> list[int]:
    """A manifest of a warm-up job and the large job, submitted as a user does: their ids."""
    jobs = [
        {"id": key, "kind": "music", "prompt": f"{size} bytes", "output_format": FORMAT}
        for key, size in (("warm-up", WARM_UP_BYTES), ("large", nbytes))
    ]
    path = folder / "memory.yaml"
    path.write_text(json.dumps({"batch": "memory", "jobs": jobs}))
    upgrade(database)
    submit_manifests(database, load_manifests([path]), lambda w: None)
    with session_scope(database) as session:
        ids = {key: id_ for key, id_ in session.execute(select(Job.key, Job.id))}
    return [ids["warm-up"], ids["large"]]


def measure(env: dict[str, str], job_ids: list[int]) -> Run:
    """Run the jobs in a child process; its RSS after warm-up, then while the large job runs."""
    conn, child_conn = SPAWN.Pipe()
    child = SPAWN.Process(target=worker, args=(child_conn, env, job_ids))
    child.start()
    pid = child.pid
    assert pid is not None
    await_message(conn, child, "warm")
    time.sleep(0.5)  # let the warm-up's last frees settle
    baseline = statistics.median(sample(pid) for _ in range(5))
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart the high-water mark here
    started = time.monotonic()
    conn.send("go")
    peak = baseline
    while not conn.poll(SAMPLE_S):
        if not child.is_alive():
            raise SystemExit(f"the worker died (exit code {child.exitcode})")
        peak = max(peak, rss_mb(pid))
    seconds = time.monotonic() - started
    high_water = proc_status_kb(pid, "VmHWM") / 1024
    await_message(conn, child, "done")
    child.join()
    return Run(baseline, peak, high_water, seconds)


def await_message(conn: Connection, child: BaseProcess, expected: str) -> None:
    while not conn.poll(1):
        if not child.is_alive():
            raise SystemExit(f"the worker died before saying {expected!r}")
    if (message := conn.recv()) != expected:
        raise SystemExit(f"the worker said {message!r}, expected {expected!r}")


def check_output(database: str, s3_url: str, job_id: int, nbytes: int) -> None:
    """The job succeeded, and its record and the object in S3 match what the API sent."""
    digest = hashlib.sha256()
    for block in noise(nbytes):
        digest.update(block)
    expected = (nbytes, digest.hexdigest())
    with session_scope(database) as session:
        job = session.get_one(Job, job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise SystemExit(f"the large job ended {job.status.value}: {job.error}")
        artifact = session.scalars(select(Artifact).where(Artifact.job_id == job_id)).one()
        recorded, key = (artifact.bytes, artifact.sha256), f"{PREFIX}/{artifact.key}"
    s3 = boto3.client("s3", endpoint_url=s3_url)
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    stored, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MB):
        stored.update(chunk)
        size += len(chunk)
    for what, found in (("recorded", recorded), ("stored", (size, stored.hexdigest()))):
        if found != expected:
            raise SystemExit(f"{what} object is {found}, the API sent {expected}")


def empty_bucket(s3_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_url)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def one_run(nbytes: int, s3_url: str, api_url: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="audiobatch-bench-") as name:
        folder = Path(name)
        database = f"sqlite:///{folder / 'state.db'}"
        job_ids = submit(folder, database, nbytes)
        env = {
            **AWS,
            "AWS_ENDPOINT_URL": s3_url,
            "ELEVENLABS_API_KEY": "bench-key",
            "AUDIOBATCH_API_URL": api_url,
            "AUDIOBATCH_DATABASE_URL": database,
            "AUDIOBATCH_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
            "AUDIOBATCH_HOME": str(folder / "home"),
        }
        run = measure(env, job_ids)
        check_output(database, s3_url, job_ids[1], nbytes)
        dispose_engines()
    empty_bucket(s3_url)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=500, help="size of the answer, in MiB")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(AWS)
    growths = []
    with servers() as (s3_url, api_url):
        boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=BUCKET)
        for number in range(1, args.runs + 1):
            run = one_run(args.mb * MB, s3_url, api_url)
            growths.append(run.growth_mb)
            print(
                f"run {number}: baseline {run.baseline_mb:.1f} MB, peak {run.peak_mb:.1f} MB "
                f"(high-water {run.high_water_mb:.1f} MB), growth {run.growth_mb:.1f} MB, "
                f"{args.mb / run.seconds:.0f} MB/s; stored object's size and sha256 correct",
                flush=True,
            )
    median = statistics.median(growths)
    verdict = "within" if median <= BOUND_MB else "OVER"
    print(f"median growth of {args.runs} runs ({args.mb} MB answer): {median:.1f} MB, "
          f"{verdict} the {BOUND_MB:.0f} MB bound")  # fmt: skip
    if median > BOUND_MB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
