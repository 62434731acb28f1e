"""The Python API end to end: batches submitted through ``audiobatch.Client``, their jobs rendered
by the worker path against the emulator over HTTP, then waited for, read and acted on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from audiobatch import BatchStatus, Client, Output
from audiobatch.backend import Backend
from audiobatch.config import Settings
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch
from audiobatch.db.session import session_scope
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.errors import ConfigError, ManifestError, QuotaShortError, WaitTimeoutError
from audiobatch.limiter import LocalLimiter
from audiobatch.render.runner import Runtime
from audiobatch.retry import RetryPolicy
from tests.integration.test_episodes import run_queued

KEY = "client-test-key"
HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"


def greetings(name: str = "greetings") -> dict[str, Any]:
    return {
        "batch": name,
        "voices": {"host": HOST, "guest": GUEST},
        "jobs": [
            {
                "id": "hello",
                "kind": "dialogue",
                "inputs": [{"voice": "host", "text": "Hello there."}],
            },
            {
                "id": "reply",
                "kind": "dialogue",
                "inputs": [{"voice": "guest", "text": "Hi to you."}],
            },
        ],
    }


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture(scope="module")
def failing_emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(api_keys=frozenset({KEY}), fault_rate=1.0, faults=("500",))
    with serve_in_thread(config) as running:
        yield running


def client_on(database_url: str, tmp_path: Path, storage_url: str | None = None) -> Client:
    storage = storage_url or f"file://{tmp_path / 'renders'}"
    return Client(Settings(home=tmp_path / "home", database_url=database_url, storage_url=storage))


def render(client: Client, emulator: RunningEmulator) -> None:
    """Run every queued job, and those they unblock, as a worker would (one attempt each)."""
    runtime = Runtime(
        database_url=client.database_url,
        storage=client.storage,
        client=ElevenLabsClient(emulator.url, KEY),
        limiter=LocalLimiter({"general": 2, "music": 2}),
        publish=lambda _: None,
        worker="test-worker",
        backend=Backend.of(emulator.url, KEY),
        policy=RetryPolicy(max_attempts=1),
    )
    run_queued(client.database_url, runtime)


def test_a_dict_is_submitted_rendered_and_its_outputs_are_local_files_hashing_as_recorded(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    client = client_on(database_url, tmp_path)
    submitted = client.submit(greetings())
    assert isinstance(submitted, BatchStatus)
    assert (submitted.name, submitted.status, submitted.counts["queued"]) == (
        "greetings",
        "queued",
        2,
    )

    render(client, emulator)
    done = client.wait(submitted.id, timeout_s=10, poll_s=0.05)

    assert (done.id, done.status, done.counts["succeeded"]) == (submitted.id, "succeeded", 2)
    assert done.ended and done.characters == len("Hello there.") + len("Hi to you.")
    assert done.as_json()["jobs"][0]["id"] == "hello"
    outputs = list(client.results("greetings"))
    assert [(o.job_id, o.url) for o in outputs] == [("hello", None), ("reply", None)]
    for output in outputs:
        assert isinstance(output, Output) and output.path is not None
        body = output.path.read_bytes()
        assert len(body) == output.bytes and hashlib.sha256(body).hexdigest() == output.sha256


def test_a_manifest_file_and_manifest_text_are_submitted_as_the_cli_reads_them(
    sqlite_url: str, tmp_path: Path
) -> None:
    client = client_on(sqlite_url, tmp_path)
    path = tmp_path / "lines.csv"
    path.write_text(f'episode,voice,text\npilot,{HOST},"Once."\npilot,{GUEST},"Twice."\n')
    from_file = client.submit(path)
    from_text = client.submit(
        f"batch: typed\njobs:\n  - {{id: a, kind: dialogue, inputs: [{{voice: {HOST}, text: Hi.}}]}}\n",
        format="yaml",
        tags=["nightly"],
    )

    assert (from_file.name, sum(from_file.counts.values())) == ("lines", 1)
    assert (from_text.name, from_text.tags, from_text.counts["queued"]) == ("typed", ["nightly"], 1)
    assert client.submit(str(path)).id == from_file.id  # still active: the same batch


def test_a_bad_manifest_raises_manifest_error_with_every_problem_located(
    sqlite_url: str, tmp_path: Path
) -> None:
    client = client_on(sqlite_url, tmp_path)
    bad = greetings()
    bad["jobs"][0]["inputs"][0]["voice"] = "nobody"
    del bad["jobs"][1]["inputs"]

    with pytest.raises(ManifestError) as raised:
        client.submit(bad)

    fields = sorted(p.field for p in raised.value.problems)
    assert fields == ["jobs[hello].inputs[0].voice", "jobs[reply].inputs"], raised.value.problems
    assert all(p.line is not None for p in raised.value.problems)


def test_outputs_on_s3_come_with_presigned_urls_that_download_the_recorded_bytes(
    postgres_url: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    upgrade(postgres_url)
    client = client_on(postgres_url, tmp_path, storage_url=f"s3://{s3_bucket}")
    batch = client.submit(greetings())
    render(client, emulator)
    client.wait(batch.id, timeout_s=10, poll_s=0.05)

    outputs = list(client.results(batch.id, url_expires_s=60))
    assert len(outputs) == 2
    for output in outputs:
        assert output.path is None and output.url is not None
        body = httpx.get(output.url).raise_for_status().content
        assert len(body) == output.bytes and hashlib.sha256(body).hexdigest() == output.sha256


def test_a_failed_job_is_retried_and_then_renders(
    database_url: str,
    emulator: RunningEmulator,
    failing_emulator: RunningEmulator,
    tmp_path: Path,
) -> None:
    client = client_on(database_url, tmp_path)
    batch = client.submit(greetings())
    render(client, failing_emulator)
    failed = client.wait(batch.id, timeout_s=10, poll_s=0.05)
    assert (failed.status, failed.counts["failed"]) == ("failed", 2)

    retried = client.retry(batch.id, job_id="reply")
    assert (retried.batch_id, retried.jobs) == (batch.id, 1)
    render(client, emulator)

    after = client.wait(batch.id, timeout_s=10, poll_s=0.05)
    assert (after.status, after.counts["succeeded"], after.counts["failed"]) == ("partial", 1, 1)
    assert [o.job_id for o in client.results(batch.id)] == ["reply"]


@pytest.mark.parametrize("budget", [0, -5, 2**31])
def test_a_budget_no_batch_can_have_is_refused_and_nothing_is_written(
    database_url: str, tmp_path: Path, budget: int
) -> None:
    client = client_on(database_url, tmp_path)
    with pytest.raises(ConfigError, match="a character budget must be at"):
        client.submit(greetings(), character_budget=budget)
    with session_scope(database_url) as session:
        assert session.scalars(select(Batch)).all() == []


def test_a_batch_paused_by_its_budget_is_returned_by_wait_with_its_reason_and_resumes(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    client = client_on(database_url, tmp_path)
    batch = client.submit(greetings(), character_budget=5)
    render(client, emulator)

    paused = client.wait(batch.id, timeout_s=10, poll_s=0.05)
    assert paused.status == "paused" and not paused.ended
    assert paused.reason and "budget" in paused.reason

    resumed = client.resume(batch.id)
    assert resumed.jobs == paused.counts["paused"] >= 1
    render(client, emulator)
    assert client.wait(batch.id, timeout_s=10, poll_s=0.05).status == "succeeded"


def test_cancel_ends_a_batch_nothing_has_run_of(sqlite_url: str, tmp_path: Path) -> None:
    client = client_on(sqlite_url, tmp_path)
    batch = client.submit(greetings())

    outcome = client.cancel("greetings")

    assert (outcome.batch_id, outcome.jobs, outcome.ended) == (batch.id, 2, True)
    assert client.wait(batch.id, timeout_s=1).status == "cancelled"
    again = client.cancel("greetings")  # an ended batch: nothing to cancel, and it has ended
    assert (again.jobs, again.ended) == (0, True)


def test_a_wait_that_times_out_says_no_worker_serves_the_batchs_queue(
    database_url: str, tmp_path: Path
) -> None:
    client = client_on(database_url, tmp_path)
    batch = client.submit(greetings())

    with pytest.raises(WaitTimeoutError) as raised:
        client.wait(batch.id, timeout_s=0.2, poll_s=0.05)

    message = str(raised.value)
    assert f"greetings [{batch.id}] has not ended after 0.2 s (2 queued)" in message
    assert "no live worker serves queue(s) dialogue; start one with `audiobatch worker`" in message


def test_a_batch_the_account_cannot_pay_for_is_refused_unless_allowed_over(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = EmulatorConfig(api_keys=frozenset({KEY}), quota_chars=5)
    with serve_in_thread(config) as short:
        settings = Settings(home=tmp_path / "home", database_url=sqlite_url, api_url=short.url)
        client = Client(settings.with_overrides(api_key=SecretStr(KEY)))
        with pytest.raises(QuotaShortError, match="the account has 5 of 5 left"):
            client.submit(greetings())
        assert client.submit(greetings(), allow_over=True).status == "queued"
