"""Storage that refuses for good fails the job at once, saying what to fix; an outage still waits."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Job, JobStatus
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.render.runner import run_job
from audiobatch.storage import LocalStorage, Storage
from audiobatch.storage.s3 import S3Storage
from tests.integration.test_render_pipeline import DIALOGUE, KEY, manifest, runtime, submit


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only bind mount (the tests run as root, which ignores permissions)."""
    source, folder = tmp_path / "source", tmp_path / "read-only"
    source.mkdir()
    folder.mkdir()
    subprocess.run(["mount", "--bind", str(source), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def render_into(
    storage: Storage, sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> Job:
    """Run one dialogue job once with ``storage``; the job, which must have ended fast."""
    upgrade(sqlite_url)
    job_id = submit(sqlite_url, manifest(tmp_path, DIALOGUE))["line"]
    rt, _ = runtime(sqlite_url, emulator, tmp_path)
    started = time.monotonic()
    run_job(job_id, replace(rt, storage=storage))
    assert time.monotonic() - started < 10
    with session_scope(sqlite_url) as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
    return job


def test_a_name_too_long_for_the_file_system_fails_the_job(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    deep = tmp_path.joinpath(*["d" * 250] * 17)  # beyond PATH_MAX
    job = render_into(LocalStorage(deep), sqlite_url, emulator, tmp_path)
    assert job.status is JobStatus.FAILED
    assert "File name too long" in (job.error or "") and "shorter" in (job.error or "")


def test_a_storage_folder_under_a_file_fails_the_job(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    (tmp_path / "renders").write_text("not a folder")
    job = render_into(LocalStorage(tmp_path / "renders" / "out"), sqlite_url, emulator, tmp_path)
    assert job.status is JobStatus.FAILED
    assert f"{tmp_path / 'renders'}" in (job.error or "") and "is a file" in (job.error or "")


def test_a_read_only_file_system_fails_the_job(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path, read_only_folder: Path
) -> None:
    job = render_into(LocalStorage(read_only_folder), sqlite_url, emulator, tmp_path)
    assert job.status is JobStatus.FAILED
    assert str(read_only_folder) in (job.error or "") and "read-only" in (job.error or "")


def test_a_bucket_that_does_not_exist_fails_the_job(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path, s3_server: str
) -> None:
    storage = S3Storage("no-such-bucket-here", "renders", endpoint_url=s3_server)
    job = render_into(storage, sqlite_url, emulator, tmp_path)
    assert job.status is JobStatus.FAILED
    assert "NoSuchBucket" in (job.error or "") and "create it" in (job.error or "")


def test_an_unreachable_store_still_waits_without_using_an_attempt(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    storage = S3Storage("shows", "renders", endpoint_url="http://127.0.0.1:1")
    job = render_into(storage, sqlite_url, emulator, tmp_path)
    assert (job.status, job.attempts) == (JobStatus.RETRYING, 0)
