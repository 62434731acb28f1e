"""Reuse never crosses backends, and every batch records what rendered it: the emulator over HTTP,
the worker path, real SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audiobatch.backend import EMBEDDED_EMULATOR_KEY, Backend
from audiobatch.config import Settings
from audiobatch.dashboard.app import create_app
from audiobatch.db.models import Batch, Job, JobStatus, utcnow
from audiobatch.db.reports import batch_report, find_batch, jobs_report
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import load_manifests
from audiobatch.render.runner import Runtime, run_job
from audiobatch.storage import open_storage

HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"
BODY = {"inputs": [{"text": "Knock knock.", "voice_id": HOST}]}
LINES = """  - id: knock
    kind: dialogue
    inputs: [{voice: host, text: "Knock knock."}]
  - id: who
    kind: dialogue
    inputs: [{voice: guest, text: "Who is there?"}]
"""


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    """An emulator that says it is one (as every emulator does by default)."""
    with serve_in_thread(EmulatorConfig(concurrency=4)) as running:
        yield running


@pytest.fixture(scope="module")
def posing() -> Iterator[RunningEmulator]:
    """An emulator posing as the real API: no x-audiobatch-emulator header."""
    with serve_in_thread(EmulatorConfig(concurrency=4, identify=False)) as running:
        yield running


def runtime(database_url: str, api: RunningEmulator, key: str, tmp_path: Path) -> Runtime:
    return Runtime(
        database_url=database_url,
        storage=open_storage(f"file://{tmp_path / 'renders'}"),
        client=ElevenLabsClient(api.url, key),
        limiter=LocalLimiter({"general": 2, "music": 2}),
        publish=lambda _: None,
        worker="test-worker",
        backend=Backend.of(api.url, key),
    )


def submit(database_url: str, tmp_path: Path) -> tuple[str, dict[str, int]]:
    path = tmp_path / "lines.yaml"
    path.write_text(f"batch: lines\nvoices: {{host: {HOST}, guest: {GUEST}}}\njobs:\n{LINES}")
    [manifest] = load_manifests([path])
    with session_scope(database_url) as session:
        batch = insert_batch(session, manifest, utcnow())
        ids = {
            job.key: job.id for job in session.scalars(select(Job).where(Job.batch_id == batch.id))
        }
        return batch.id, ids


def served(api: RunningEmulator) -> int:
    return len(httpx.get(f"{api.url}/_emulator/ledger").json())


def outcome(database_url: str, batch_id: str) -> tuple[str | None, dict[str, bool]]:
    """The batch's backend, and for each job whether its outputs were reused."""
    with session_scope(database_url) as session:
        jobs = list(session.scalars(select(Job).where(Job.batch_id == batch_id)))
        assert all(job.status is JobStatus.SUCCEEDED for job in jobs)
        cached = {job.key: job.cached_from is not None for job in jobs}
        return session.get_one(Batch, batch_id).backend, cached


def render(database_url: str, rt: Runtime, tmp_path: Path) -> tuple[str | None, dict[str, bool]]:
    batch_id, ids = submit(database_url, tmp_path)
    for job_id in ids.values():
        run_job(job_id, rt)
    return outcome(database_url, batch_id)


def test_every_emulator_answer_says_so_and_the_client_notes_it(
    emulator: RunningEmulator, posing: RunningEmulator
) -> None:
    def header(api: RunningEmulator, key: str | None) -> str | None:
        answer = httpx.post(
            f"{api.url}/v1/text-to-dialogue", json=BODY, headers={"xi-api-key": key or ""}
        )
        return answer.headers.get("x-audiobatch-emulator")

    assert header(emulator, "any-key") == header(emulator, None) == "1"  # a 401 says so too
    assert httpx.get(f"{emulator.url}/_emulator/ledger").headers["x-audiobatch-emulator"] == "1"
    assert header(posing, "any-key") is None and header(posing, None) is None
    for api, expected in ((emulator, True), (posing, False)):
        client = ElevenLabsClient(api.url, "any-key")
        with client.text_to_dialogue(BODY, "mp3_44100_128") as answer:
            assert answer.emulator is expected
            assert b"".join(answer.iter_bytes())
        client.close()


def test_the_same_backend_and_key_still_reuse_and_the_copy_is_labelled_like_the_original(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    rt = runtime(database_url, emulator, "key-a", tmp_path)
    before = served(emulator)
    first = render(database_url, rt, tmp_path)
    again = render(database_url, rt, tmp_path)
    assert served(emulator) - before == 2
    assert first == ("emulator", {"knock": False, "who": False})
    assert again == ("emulator", {"knock": True, "who": True})


def test_another_account_or_api_never_reuses_an_emulator_render(
    database_url: str, emulator: RunningEmulator, posing: RunningEmulator, tmp_path: Path
) -> None:
    before_emulator, before_posing = served(emulator), served(posing)
    made = render(database_url, runtime(database_url, emulator, "key-a", tmp_path), tmp_path)
    other_key = render(database_url, runtime(database_url, emulator, "key-b", tmp_path), tmp_path)
    real = render(database_url, runtime(database_url, posing, "key-a", tmp_path), tmp_path)
    assert made == other_key == ("emulator", {"knock": False, "who": False})
    assert real == (posing.url, {"knock": False, "who": False})
    assert (served(emulator) - before_emulator, served(posing) - before_posing) == (4, 2)


def test_the_embedded_emulator_is_one_backend_whatever_its_port(
    database_url: str, tmp_path: Path
) -> None:
    with serve_in_thread(EmulatorConfig()) as first_port:
        made = render(
            database_url,
            runtime(database_url, first_port, EMBEDDED_EMULATOR_KEY, tmp_path),
            tmp_path,
        )
    with serve_in_thread(EmulatorConfig()) as second_port:
        assert second_port.url != first_port.url
        rt = runtime(database_url, second_port, EMBEDDED_EMULATOR_KEY, tmp_path)
        again = render(database_url, rt, tmp_path)
        assert served(second_port) == 0
    assert made == ("emulator", {"knock": False, "who": False})
    assert again == ("emulator", {"knock": True, "who": True})


def test_a_batch_rendered_by_the_emulator_and_an_api_is_mixed_and_says_so_everywhere(
    database_url: str, emulator: RunningEmulator, posing: RunningEmulator, tmp_path: Path
) -> None:
    batch_id, ids = submit(database_url, tmp_path)
    run_job(ids["knock"], runtime(database_url, posing, "key-a", tmp_path))
    with session_scope(database_url) as session:
        assert session.get_one(Batch, batch_id).backend == posing.url
    run_job(ids["who"], runtime(database_url, emulator, "key-a", tmp_path))
    with session_scope(database_url) as session:
        batch = find_batch(session, batch_id)
        report, rows = batch_report(session, batch), jobs_report(session, batch)
    assert report["backend"] == "mixed"
    assert [row["backend"] for row in rows] == ["mixed", "mixed"]
    results = tmp_path / "renders" / "lines" / batch_id / "results.json"
    assert '"backend": "mixed"' in results.read_text()


def test_the_dashboard_labels_emulator_batches(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    batch_id, ids = submit(database_url, tmp_path)
    run_job(ids["knock"], runtime(database_url, emulator, "key-a", tmp_path))
    settings = Settings(database_url=database_url, home=tmp_path / "home")
    with TestClient(create_app(settings), base_url="http://localhost") as dashboard:
        [listed] = dashboard.get("/api/batches").json()["items"]
        detail = dashboard.get(f"/api/batches/{batch_id}").json()
        page, listing = dashboard.get(f"/batches/{batch_id}").text, dashboard.get("/").text
    assert listed["backend"] == detail["backend"] == "emulator"
    label = '<span class="backend emulator" data-field="backend">emulator</span>'
    assert label in page and label in listing
