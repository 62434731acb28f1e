"""Sources stay where they are allowed to come from, in the worker (which checks again just
before it reads, whatever its rows say) and through the dashboard (plain manifests and bundles),
against the emulator over HTTP, real databases and an S3 server."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select, update

from audiobatch.db.models import Attempt, Batch, Job, JobStatus
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.render.runner import run_job
from tests.integration.test_dashboard_api import SCRIPT, Stack, make_stack
from tests.integration.test_render_pipeline import GUEST, HOST, KEY, runtime, submit

RECORDING = (Path(__file__).resolve().parents[2] / "manifests/audio/line-01.mp3").read_bytes()
REDUB = "batch: confined\njobs:\n  - {{id: redub, kind: voice_change, voice: {guest}, source: '{source}'}}\n"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """A manifest's folder with a take in it; beside it, a private folder with another."""
    (tmp_path / "show" / "audio").mkdir(parents=True)
    (tmp_path / "show" / "audio" / "take.mp3").write_bytes(RECORDING)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.mp3").write_bytes(RECORDING)
    return tmp_path / "show"


def redub(folder: Path, source: str, policy: SourcePolicy | None = None) -> Manifest:
    path = folder / "m.yaml"
    path.write_text(REDUB.format(guest=GUEST, source=source))
    [manifest] = load_manifests([path], sources=policy or SourcePolicy())
    return manifest


def outcome(database_url: str, job_id: int) -> tuple[JobStatus, str | None, list[int | None]]:
    with session_scope(database_url) as session:
        job = session.get_one(Job, job_id)
        calls = session.scalars(select(Attempt.http_status).where(Attempt.job_id == job_id))
        return job.status, job.error, list(calls)


def test_the_worker_refuses_a_row_whose_path_is_outside_its_batchs_roots(
    database_url: str, emulator: RunningEmulator, show: Path, tmp_path: Path
) -> None:
    ids = submit(database_url, redub(show, "audio/take.mp3"))
    secret = str(tmp_path / "private" / "secret.mp3")
    with session_scope(database_url) as session:  # a row written past validation
        job = session.get_one(Job, ids["redub"])
        job.spec = {**job.spec, "source": secret}
    rt, _ = runtime(database_url, emulator, tmp_path)
    run_job(ids["redub"], rt)
    status, error, calls = outcome(database_url, ids["redub"])
    assert status is JobStatus.FAILED
    assert error is not None and f"source path {secret} is outside the folders" in error
    assert calls == [None]  # nothing was sent to the API


def test_a_link_swapped_in_after_validation_is_refused_by_the_worker(
    database_url: str, emulator: RunningEmulator, show: Path, tmp_path: Path
) -> None:
    ids = submit(database_url, redub(show, "audio/take.mp3"))
    take = show / "audio" / "take.mp3"
    take.unlink()
    take.symlink_to(tmp_path / "private" / "secret.mp3")
    rt, _ = runtime(database_url, emulator, tmp_path)
    run_job(ids["redub"], rt)
    status, error, _ = outcome(database_url, ids["redub"])
    assert status is JobStatus.FAILED
    assert error is not None and "is outside the folders sources may come from" in error


def test_a_batch_without_recorded_roots_reads_no_local_file(
    database_url: str, emulator: RunningEmulator, show: Path, tmp_path: Path
) -> None:
    ids = submit(database_url, redub(show, "audio/take.mp3"))
    with session_scope(database_url) as session:  # written before roots were recorded
        session.execute(update(Batch).values(source_roots=None))
    rt, _ = runtime(database_url, emulator, tmp_path)
    run_job(ids["redub"], rt)
    status, error, _ = outcome(database_url, ids["redub"])
    assert status is JobStatus.FAILED and error is not None
    assert "local source files are not accepted here" in error


def test_s3_sources_outside_the_allowed_buckets_are_refused_at_validation_and_by_the_worker(
    sqlite_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from audiobatch.db.migrate import upgrade

    upgrade(sqlite_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    s3 = boto3.client("s3", endpoint_url=s3_server)
    other = f"{s3_bucket}-other"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=s3_bucket, Key="takes/line.mp3", Body=RECORDING)
    s3.put_object(Bucket=other, Key="takes/line.mp3", Body=RECORDING)
    allowed = (f"{s3_bucket}/takes",)
    with pytest.raises(Exception, match=f"s3://{other}/takes/line.mp3 is outside the buckets"):
        redub(tmp_path, f"s3://{other}/takes/line.mp3", SourcePolicy(buckets=allowed))

    ids = submit(sqlite_url, redub(tmp_path, f"s3://{s3_bucket}/takes/line.mp3"))
    stray = submit(sqlite_url, redub(tmp_path, f"s3://{other}/takes/line.mp3"))
    rt, _ = runtime(sqlite_url, emulator, tmp_path)
    rt = replace(rt, source_buckets=allowed)
    run_job(ids["redub"], rt)
    run_job(stray["redub"], rt)
    assert outcome(sqlite_url, ids["redub"])[0] is JobStatus.SUCCEEDED
    status, error, calls = outcome(sqlite_url, stray["redub"])
    assert status is JobStatus.FAILED and calls == [None]
    assert error is not None and f"s3://{other}/takes/line.mp3 is outside the buckets" in error


# ---- the dashboard -----------------------------------------------------------------------------


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path)
    with made.client:
        yield made


def upload(stack: Stack, name: str, body: bytes) -> tuple[int, list[str]]:
    answer = stack.client.post("/api/batches", headers=SCRIPT, files={"manifest": (name, body)})
    return answer.status_code, answer.json().get("problems", [])


def zipped(*members: tuple[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return raw.getvalue()


def test_an_uploaded_manifest_naming_local_files_is_refused_without_telling_if_they_exist(
    stack: Stack,
) -> None:
    answers = {
        source: upload(stack, "up.yaml", REDUB.format(guest=GUEST, source=source).encode())
        for source in ("/etc/passwd", "/etc/no-such-file", "../../../../etc/passwd")
    }
    for status, problems in answers.values():
        assert status == 422
        [problem] = problems
        assert "local source files are not accepted here" in problem
    assert len({tuple(problems) for _, problems in answers.values()}) == 1


def test_a_bundle_whose_members_climb_out_or_inflate_too_far_is_refused_and_leaves_nothing(
    stack: Stack,
) -> None:
    manifest = REDUB.format(guest=GUEST, source="take.mp3").encode()
    for members in (
        [("m.yaml", manifest), ("../../take.mp3", RECORDING)],
        [("m.yaml", manifest), ("take.mp3", bytes(64 << 20))],
    ):
        status, problems = upload(stack, "show.zip", zipped(*members))
        assert status == 422, problems
        assert problems[0].startswith("show.zip:")
    uploads = stack.settings.home.resolve() / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_bundle_is_unpacked_into_its_own_root_and_rendered_end_to_end(
    stack: Stack, emulator: RunningEmulator, tmp_path: Path
) -> None:
    manifest = (
        f"batch: bundled\nvoices: {{host: {HOST}, guest: {GUEST}}}\njobs:\n"
        "  - {id: redub, kind: voice_change, voice: guest, source: audio/take.mp3}\n"
        "  - {id: line, kind: dialogue, inputs: [{voice: host, text: Hello.}]}\n"
        "  - {id: again, kind: voice_change, voice: host, source: {from: line}}\n"
    )
    body = zipped(("show.yaml", manifest.encode()), ("audio/take.mp3", RECORDING))
    answer = stack.client.post(
        "/api/batches", headers=SCRIPT, files={"manifest": ("show.zip", body)}
    )
    assert answer.status_code == 201, answer.text
    batch_id = answer.json()["batch_id"]
    with session_scope(stack.url) as session:
        [root] = session.get_one(Batch, batch_id).source_roots or []
        keys = dict(session.execute(select(Job.key, Job.id).where(Job.batch_id == batch_id)).all())
    assert Path(root).parent == stack.settings.home.resolve() / "uploads"
    assert (Path(root) / "audio" / "take.mp3").read_bytes() == RECORDING
    rt, _ = runtime(stack.url, emulator, tmp_path)
    for key in ("redub", "line", "again"):
        run_job(keys[key], rt)
        assert outcome(stack.url, keys[key])[:2] == (JobStatus.SUCCEEDED, None), key
