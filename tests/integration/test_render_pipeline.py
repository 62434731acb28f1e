"""One job through the whole worker path: claim, API call to the emulator over HTTP, storage, SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from audiobatch.backend import Backend
from audiobatch.db.models import Artifact, Attempt, Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.render.runner import Runtime, run_job
from audiobatch.storage import open_storage

KEY = "pipeline-test-key"
HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


def manifest(tmp_path: Path, jobs: str) -> Manifest:
    path = tmp_path / "m.yaml"
    path.write_text(f"batch: pipe\nvoices: {{host: {HOST}, guest: {GUEST}}}\njobs:\n{jobs}")
    [loaded] = load_manifests([path])
    return loaded


def runtime(
    database_url: str, emulator: RunningEmulator, tmp_path: Path, key: str = KEY
) -> tuple[Runtime, list]:
    published: list[tuple[int, str]] = []
    rt = Runtime(
        database_url=database_url,
        storage=open_storage(f"file://{tmp_path / 'renders'}"),
        client=ElevenLabsClient(emulator.url, key),
        limiter=LocalLimiter({"general": 2, "music": 2}),
        publish=published.extend,
        worker="test-worker",
        backend=Backend.of(emulator.url, key),
    )
    return rt, published


def submit(database_url: str, m: Manifest, *, fresh: bool = False) -> dict[str, int]:
    with session_scope(database_url) as session:
        batch = insert_batch(session, m, utcnow(), fresh=fresh)
        return {
            job.key: job.id for job in session.scalars(select(Job).where(Job.batch_id == batch.id))
        }


DIALOGUE = """  - id: line
    kind: dialogue
    inputs:
      - {voice: host, text: "Knock knock."}
      - {voice: guest, text: "Who is there?"}
"""


def test_a_dialogue_job_is_rendered_stored_verified_and_recorded(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = submit(database_url, manifest(tmp_path, DIALOGUE))
    rt, _ = runtime(database_url, emulator, tmp_path)
    run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        job = session.get_one(Job, ids["line"])
        assert job.status is JobStatus.SUCCEEDED
        [artifact] = job.artifacts
        [attempt] = job.attempt_rows
        batch = session.get_one(Batch, job.batch_id)
        assert batch.status is BatchStatus.SUCCEEDED
    path = Path(artifact.uri.removeprefix("file://"))
    data = path.read_bytes()
    assert (artifact.name, artifact.bytes, artifact.sha256) == (
        "audio.mp3",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert (attempt.http_status, attempt.outcome) == (200, "succeeded")
    assert attempt.request_id and attempt.character_cost == len("Knock knock.Who is there?")
    results = json.loads(
        (tmp_path / "renders" / "pipe" / job.batch_id / "results.json").read_text()
    )
    assert results["jobs"][0]["outputs"][0]["sha256"] == artifact.sha256


def test_a_duplicate_delivery_does_nothing(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = submit(database_url, manifest(tmp_path, DIALOGUE))
    rt, _ = runtime(database_url, emulator, tmp_path)
    run_job(ids["line"], rt)
    run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        assert len(list(session.scalars(select(Attempt)))) == 1
        assert len(list(session.scalars(select(Artifact)))) == 1


def outputs_of(database_url: str, job_id: int) -> tuple[Job, list[Artifact]]:
    with session_scope(database_url) as session:
        job = session.get_one(Job, job_id)
        artifacts = list(job.artifacts)
        session.expunge_all()
    return job, artifacts


def test_the_same_request_again_reuses_the_stored_output_without_calling_the_api(
    database_url: str, tmp_path: Path
) -> None:
    first = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    second = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    with serve_in_thread(EmulatorConfig()) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        run_job(first, rt)
        run_job(second, rt)
        ledger = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    original, [made] = outputs_of(database_url, first)
    reuse, [copied] = outputs_of(database_url, second)
    assert len(ledger) == 1
    assert (reuse.status, reuse.cached_from, reuse.attempts) == (JobStatus.SUCCEEDED, first, 0)
    assert reuse.request_sha256 == original.request_sha256
    assert (copied.sha256, copied.bytes) == (made.sha256, made.bytes)
    assert copied.key != made.key and f"/{reuse.batch_id}/" in copied.key
    assert (tmp_path / "renders" / copied.key).read_bytes() == (
        tmp_path / "renders" / made.key
    ).read_bytes()


def test_a_fresh_batch_or_a_vanished_output_renders_again(
    database_url: str, tmp_path: Path
) -> None:
    first = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    fresh = submit(database_url, manifest(tmp_path, DIALOGUE), fresh=True)["line"]
    after_loss = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    with serve_in_thread(EmulatorConfig()) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        run_job(first, rt)
        run_job(fresh, rt)  # asked for a new generation
        for job_id in (first, fresh):
            (tmp_path / "renders" / outputs_of(database_url, job_id)[1][0].key).unlink()
        run_job(after_loss, rt)  # every earlier output of the request is gone from storage
        ledger = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    assert len(ledger) == 3
    for job_id in (fresh, after_loss):
        job, _ = outputs_of(database_url, job_id)
        assert (job.status, job.cached_from, job.attempts) == (JobStatus.SUCCEEDED, None, 1)
    assert (tmp_path / "renders" / outputs_of(database_url, after_loss)[1][0].key).is_file()


def test_an_invalid_api_key_pauses_the_batch_without_burning_an_attempt(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = submit(
        database_url, manifest(tmp_path, DIALOGUE + DIALOGUE.replace("id: line", "id: next"))
    )
    rt, _ = runtime(database_url, emulator, tmp_path, key="wrong-key")
    run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        job = session.get_one(Job, ids["line"])
        assert (job.status, job.error_code, job.attempts) == (
            JobStatus.PAUSED,
            "invalid_api_key",
            0,
        )
        assert "wrong-key" not in (job.error or "")
        [attempt] = job.attempt_rows
        assert (attempt.http_status, attempt.outcome) == (401, "paused")
        assert not job.artifacts
        assert session.get_one(Job, ids["next"]).status is JobStatus.PAUSED
        batch = session.get_one(Batch, job.batch_id)
        assert batch.status is BatchStatus.PAUSED
        assert "invalid_api_key" in (batch.status_reason or "")
        assert "audiobatch resume" in (batch.status_reason or "")
    run_job(ids["next"], rt)  # a wake-up already in the broker finds the job paused
    with session_scope(database_url) as session:
        assert not session.get_one(Job, ids["next"]).attempt_rows


def test_a_batch_paused_on_exhausted_quota_completes_after_resume(
    database_url: str, tmp_path: Path
) -> None:
    from audiobatch.db.jobs import requeue_due
    from audiobatch.db.operations import resume

    lines = "".join(
        DIALOGUE.replace("id: line", f"id: line{n}").replace("Knock knock.", f"Knock {n}.")
        for n in range(4)
    )
    ids = submit(database_url, manifest(tmp_path, lines))
    per_job = len("Knock 0.Who is there?")
    with serve_in_thread(EmulatorConfig(quota_chars=2 * per_job)) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        for key in ("line0", "line1", "line2"):
            run_job(ids[key], rt)
        with session_scope(database_url) as session:
            statuses = [session.get_one(Job, ids[f"line{n}"]).status for n in range(4)]
            batch = session.get_one(Batch, session.get_one(Job, ids["line0"]).batch_id)
            assert statuses == [JobStatus.SUCCEEDED] * 2 + [JobStatus.PAUSED] * 2
            assert batch.status is BatchStatus.PAUSED
            assert "quota_exceeded" in (batch.status_reason or "")
            requeue_due(session, utcnow())  # the reconciler leaves paused jobs alone
        httpx.post(f"{emulator.url}/_emulator/quota", params={"chars": 2 * per_job})
        with session_scope(database_url) as session:
            batch = session.get_one(Batch, batch.id)
            assert resume(session, batch) == 2
        for key in ("line2", "line3"):
            run_job(ids[key], rt)
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch.id)
        assert batch.status is BatchStatus.SUCCEEDED
        jobs = list(session.scalars(select(Job).where(Job.batch_id == batch.id)))
        assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}
        assert [job.attempts for job in jobs] == [1, 1, 1, 1]


def test_timestamps_store_alignment_and_subtitles(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    jobs = DIALOGUE.replace(
        "kind: dialogue", "kind: dialogue\n    timestamps: true"
    ) + DIALOGUE.replace("id: line", "id: streamed").replace(
        "kind: dialogue", "kind: dialogue\n    timestamps: true\n    stream: true"
    )
    ids = submit(database_url, manifest(tmp_path, jobs))
    rt, _ = runtime(database_url, emulator, tmp_path)
    for job_id in ids.values():
        run_job(job_id, rt)
    with session_scope(database_url) as session:
        for job_id in ids.values():
            job = session.get_one(Job, job_id)
            assert job.status is JobStatus.SUCCEEDED, job.error
            names = {a.name: a for a in job.artifacts}
            assert set(names) == {"audio.mp3", "alignment.json", "subtitles.srt", "subtitles.vtt"}
            alignment = json.loads(
                Path(names["alignment.json"].uri.removeprefix("file://")).read_text()
            )
            assert (
                "".join(alignment["alignment"]["characters"]).replace(" ", "").startswith("Knock")
            )
            assert [s["voice_id"] for s in alignment["voice_segments"]] == [HOST, GUEST]
            srt = Path(names["subtitles.srt"].uri.removeprefix("file://")).read_text()
            assert "Knock knock." in srt and "Who is there?" in srt


DEPENDANT = """  - id: redub
    kind: voice_change
    voice: guest
    source: {from: line}
"""


def test_a_dependant_is_queued_and_published_when_its_parent_succeeds(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = submit(database_url, manifest(tmp_path, DIALOGUE + DEPENDANT))
    rt, published = runtime(database_url, emulator, tmp_path)
    run_job(ids["line"], rt)
    assert published == [(ids["redub"], "voice")]


def test_every_dialogue_output_format_is_stored_with_its_extension(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    from audiobatch.elevenlabs.formats import FORMATS_BY_FAMILY, extension

    formats = sorted(FORMATS_BY_FAMILY["dialogue"])
    jobs = "".join(
        f"  - {{id: f{n}, kind: dialogue, output_format: {fmt}, inputs: [{{voice: host, text: Hi.}}]}}\n"
        for n, fmt in enumerate(formats)
    )
    ids = submit(database_url, manifest(tmp_path, jobs))
    rt, _ = runtime(database_url, emulator, tmp_path)
    for job_id in ids.values():
        run_job(job_id, rt)
    with session_scope(database_url) as session:
        for n, fmt in enumerate(formats):
            job = session.get_one(Job, ids[f"f{n}"])
            assert job.status is JobStatus.SUCCEEDED, (fmt, job.error)
            assert [a.name for a in job.artifacts] == [f"audio.{extension(fmt)}"]


def test_a_voice_change_reads_its_source_from_s3(
    sqlite_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    from audiobatch.db.migrate import upgrade

    upgrade(sqlite_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    recording = (Path(__file__).resolve().parents[2] / "manifests/audio/line-01.mp3").read_bytes()
    boto3.client("s3", endpoint_url=s3_server).put_object(
        Bucket=s3_bucket, Key="takes/line.mp3", Body=recording
    )
    jobs = f"  - {{id: redub, kind: voice_change, voice: guest, source: 's3://{s3_bucket}/takes/line.mp3'}}\n"
    ids = submit(sqlite_url, manifest(tmp_path, jobs))
    rt, _ = runtime(sqlite_url, emulator, tmp_path)
    run_job(ids["redub"], rt)
    with session_scope(sqlite_url) as session:
        job = session.get_one(Job, ids["redub"])
        assert job.status is JobStatus.SUCCEEDED, job.error
        assert [a.name for a in job.artifacts] == ["audio.mp3"]


def test_an_answer_whose_upload_failed_is_replayed_not_generated_again(
    database_url: str, tmp_path: Path, s3_server: str, s3_bucket: str
) -> None:
    from dataclasses import replace

    from audiobatch.db.jobs import requeue_due
    from audiobatch.storage.s3 import S3Storage
    from tests.services import free_port

    job_id = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    with serve_in_thread(EmulatorConfig()) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        rt.spool_root = tmp_path / "spool"
        down = S3Storage(s3_bucket, "renders", endpoint_url=f"http://127.0.0.1:{free_port()}")
        run_job(job_id, replace(rt, storage=down))  # the store is unreachable
        with session_scope(database_url) as session:
            assert session.get_one(Job, job_id).status is JobStatus.RETRYING
            requeue_due(session, utcnow() + timedelta(minutes=5))
        run_job(
            job_id, replace(rt, storage=S3Storage(s3_bucket, "renders", endpoint_url=s3_server))
        )
        ledger = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    job, [artifact] = outputs_of(database_url, job_id)
    with session_scope(database_url) as session:
        attempts = [(a.outcome, a.request_id) for a in session.get_one(Job, job_id).attempt_rows]
    assert job.status is JobStatus.SUCCEEDED
    assert len(ledger) == 1  # one generation, paid once
    assert attempts == [("retry", ledger[0]["request_id"]), ("succeeded", ledger[0]["request_id"])]
    assert artifact.sha256 == ledger[0]["sha256"]
    assert not list((tmp_path / "spool").iterdir())  # kept only while a retry could replay it


def _raise(*_: object, **__: object) -> None:
    raise RuntimeError("injected")


STEPS = {
    "fingerprint": ("audiobatch.render.runner.request_fingerprint", None),
    "reuse lookup": ("audiobatch.render.runner.reuse_earlier_outputs", None),
    "limiter": (None, "limiter.slot"),
    "storage write": (None, "storage.write"),
    "verify": (None, "storage.verify"),
    "recording success": ("audiobatch.db.jobs.succeed", None),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_an_exception_at_any_step_fails_the_job_with_its_class_and_message(
    database_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    ids = submit(database_url, manifest(tmp_path, DIALOGUE))
    rt, _ = runtime(database_url, emulator, tmp_path)
    module_attr, runtime_attr = STEPS[step]
    if module_attr:
        monkeypatch.setattr(module_attr, _raise)
    else:
        owner, name = runtime_attr.split(".")
        monkeypatch.setattr(getattr(rt, owner), name, _raise)
    run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        job = session.get_one(Job, ids["line"])
        attempts = session.scalars(select(Attempt).where(Attempt.job_id == job.id)).all()
        batch = session.get_one(Batch, job.batch_id)
    assert job.status is JobStatus.FAILED
    assert job.error == "internal error: RuntimeError: injected"
    assert job.lease_owner is None
    assert [a.error_message for a in attempts] == ["internal error: RuntimeError: injected"]
    assert batch.status is BatchStatus.FAILED
    assert rt.leases.held() == frozenset()


def test_an_exception_after_the_success_is_recorded_leaves_the_job_succeeded(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = submit(database_url, manifest(tmp_path, DIALOGUE + DEPENDANT))
    rt, _ = runtime(database_url, emulator, tmp_path)
    rt.publish = _raise
    run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        assert session.get_one(Job, ids["line"]).status is JobStatus.SUCCEEDED
        assert session.get_one(Job, ids["redub"]).status is JobStatus.QUEUED
