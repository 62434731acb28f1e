"""A worker that lost its lease never changes a committed output: late writers simulated in one
process, against a real local folder and a real S3 server (moto), by running another worker's
whole attempt at the point where the first one stalls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from audiobatch.db.jobs import requeue_due, take_back_expired
from audiobatch.db.models import Attempt, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.render.runner import Runtime, run_job
from audiobatch.storage import LocalStorage, Storage, StoredObject
from audiobatch.storage.s3 import S3Storage
from tests.integration.test_render_pipeline import (
    DIALOGUE,
    KEY,
    manifest,
    outputs_of,
    runtime,
    submit,
)

LATE = b"late generation "  # makes the late writer's bytes differ from the winner's


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture(params=["local", "s3"])
def storage_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage]:
    """New handles on one store, one per worker, as two hosts would have."""
    if request.param == "local":
        return lambda: LocalStorage(tmp_path / "renders")
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return lambda: S3Storage(bucket, "renders", endpoint_url=endpoint)


def workers(
    database_url: str, emulator: RunningEmulator, tmp_path: Path, storage: Callable[[], Storage]
) -> tuple[Runtime, Runtime]:
    """Two workers on two hosts: each its own storage handle and spool."""
    first, _ = runtime(database_url, emulator, tmp_path)
    second, _ = runtime(database_url, emulator, tmp_path)
    return (
        replace(first, worker="host-a", storage=storage(), spool_root=tmp_path / "a"),
        replace(second, worker="host-b", storage=storage(), spool_root=tmp_path / "b"),
    )


def take_over(database_url: str, job_id: int, winner: Runtime) -> None:
    """The stalled worker's lease runs out; ``winner`` claims the job and renders it whole."""
    with session_scope(database_url) as session:
        assert take_back_expired(session, utcnow() + timedelta(minutes=5), 3) == 1
    run_job(job_id, winner)


def stall_writes(
    worker: Runtime, when: str, then: Callable[[], None]
) -> Callable[[], list[StoredObject]]:
    """Make ``worker``'s writes carry a generation of their own and stall ``when`` ("mid-write":
    after the first chunk; "before-commit": after the object is stored and verified), running
    ``then`` meanwhile; what it wrote."""
    store, written = worker.storage, []
    write, verify = store.write, store.verify

    def late(chunks: Iterable[bytes]) -> Iterator[bytes]:
        for n, chunk in enumerate(chunks):
            if n == 0 and when == "mid-write":
                then()
            yield (LATE if n == 0 else b"") + chunk

    def stalling_write(
        key: str, chunks: Iterable[bytes], content_type: str, *, exclusive: bool = False
    ) -> StoredObject:
        written.append(write(key, late(chunks), content_type, exclusive=exclusive))
        return written[-1]

    def stalling_verify(obj: StoredObject) -> None:
        verify(obj)
        if when == "before-commit":
            then()

    store.write = stalling_write  # type: ignore[method-assign]
    store.verify = stalling_verify  # type: ignore[method-assign]
    return lambda: written


def attempts_of(database_url: str, job_id: int) -> list[tuple[str, str]]:
    with session_scope(database_url) as session:
        rows = session.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.id))
        return [(a.worker, a.outcome) for a in rows]


def stored_sha256(store: Storage, key: str) -> str:
    return hashlib.sha256(b"".join(store.read(key))).hexdigest()


def test_a_late_write_fails_and_leaves_the_winners_committed_object(
    database_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    storage_factory: Callable[[], Storage],
) -> None:
    job_id = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    late, winner = workers(database_url, emulator, tmp_path, storage_factory)
    written = stall_writes(late, "mid-write", lambda: take_over(database_url, job_id, winner))
    run_job(job_id, late)
    job, [artifact] = outputs_of(database_url, job_id)
    ledger = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    assert job.status is JobStatus.SUCCEEDED
    assert attempts_of(database_url, job_id) == [("host-b", "succeeded"), ("host-a", "abandoned")]
    assert written() == []  # the late write never became an object
    assert ledger[-1]["sha256"] == artifact.sha256  # the winner's generation, served last
    assert stored_sha256(storage_factory(), artifact.key) == artifact.sha256


def test_a_late_object_that_landed_first_is_cleared_by_the_lease_holder(
    database_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    storage_factory: Callable[[], Storage],
) -> None:
    job_id = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    late, winner = workers(database_url, emulator, tmp_path, storage_factory)
    written = stall_writes(late, "before-commit", lambda: take_over(database_url, job_id, winner))
    run_job(job_id, late)
    job, [artifact] = outputs_of(database_url, job_id)
    [late_object] = written()
    assert job.status is JobStatus.SUCCEEDED
    assert attempts_of(database_url, job_id) == [("host-b", "succeeded"), ("host-a", "abandoned")]
    assert late_object.sha256 != artifact.sha256
    assert stored_sha256(storage_factory(), artifact.key) == artifact.sha256


def test_a_lease_holder_that_meets_a_late_object_retries_on_the_spooled_answer(
    database_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    storage_factory: Callable[[], Storage],
) -> None:
    job_id = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    generations = len(httpx.get(f"{emulator.url}/_emulator/ledger").json())
    holder, _ = workers(database_url, emulator, tmp_path, storage_factory)
    intruder = storage_factory()
    key = f"pipe/{outputs_of(database_url, job_id)[0].batch_id}/line/audio.mp3"
    stall_writes(holder, "mid-write", lambda: intruder.write(key, [LATE], "audio/mpeg"))
    run_job(job_id, holder)  # the late object lands between the clearing and the write
    with session_scope(database_url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts) == (JobStatus.RETRYING, 0)
        requeue_due(session, utcnow() + timedelta(minutes=5))
    run_job(job_id, replace(holder, storage=storage_factory()))
    job, [artifact] = outputs_of(database_url, job_id)
    ledger = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    assert job.status is JobStatus.SUCCEEDED
    assert [outcome for _, outcome in attempts_of(database_url, job_id)] == ["retry", "succeeded"]
    assert len(ledger) == generations + 1  # the retry replayed the spooled answer
    assert ledger[-1]["sha256"] == artifact.sha256
    assert stored_sha256(storage_factory(), artifact.key) == artifact.sha256
