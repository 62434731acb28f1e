"""Two accounts render side by side against the emulator, each with its own key and quota: the
account whose quota runs out pauses only its own batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from audiobatch.backend import Backend, key_hash
from audiobatch.client import Client
from audiobatch.config import Settings
from audiobatch.db.models import Batch, BatchStatus, Job, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.errors import AccountNameError, ManifestError, QuotaShortError
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import load_manifests
from audiobatch.render.accounts import AccountLines, ApiAccount
from audiobatch.render.runner import Runtime, run_job
from audiobatch.scheduler.editing import ScheduleRequest, add_schedule
from audiobatch.storage import open_storage
from audiobatch.worker.runtime import build_runtime
from tests.dashboard_stack import SCRIPT, make_stack

DEFAULT_KEY, ACME_KEY = "default-account-key", "acme-account-key"
HOST = "JBFqnCBsd6RMkjVDRZzb"


def accounts_file(folder: Path, acme_key: str) -> Path:
    """A secrets file registering account ``acme``, readable by its owner only."""
    secrets = folder / "accounts"
    secrets.write_text(f"acme: {acme_key}\n")
    secrets.chmod(0o600)
    return secrets


@pytest.fixture  # each test starts with both quotas whole
def emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(api_keys=frozenset({DEFAULT_KEY, ACME_KEY}), quota_chars=40)
    with serve_in_thread(config) as running:
        yield running


def api_account(emulator: RunningEmulator, key: str) -> ApiAccount:
    return ApiAccount(
        ElevenLabsClient(emulator.url, key),
        LocalLimiter({"general": 2, "music": 2}),
        Backend.of(emulator.url, key),
    )


def runtime(database_url: str, emulator: RunningEmulator, tmp_path: Path) -> Runtime:
    default = api_account(emulator, DEFAULT_KEY)
    others = {"acme": api_account(emulator, ACME_KEY)}
    return Runtime(
        database_url=database_url,
        storage=open_storage(f"file://{tmp_path / 'renders'}"),
        client=default.client,
        limiter=default.limiter,
        publish=lambda queued: None,
        worker="test-worker",
        backend=default.backend,
        other_accounts=AccountLines(others.__getitem__),
    )


def submit(database_url: str, tmp_path: Path, name: str, header: str, jobs: int) -> list[int]:
    path = tmp_path / f"{name}.yaml"
    listed = "".join(  # 26 characters each, and each its own request (none reuses another)
        f'  - {{id: j{n}, kind: dialogue, inputs: [{{voice: {HOST}, text: "{name[:6]} knock, who is {n}?"}}]}}\n'
        for n in range(jobs)
    )
    path.write_text(f"batch: {name}\n{header}jobs:\n{listed}")
    [manifest] = load_manifests([path], accounts={"default", "acme"})
    with session_scope(database_url) as session:
        batch = insert_batch(session, manifest, utcnow())
        return list(session.scalars(select(Job.id).where(Job.batch_id == batch.id)))


def statuses(database_url: str) -> dict[str, tuple[BatchStatus, str]]:
    with session_scope(database_url) as session:
        return {b.name: (b.status, b.account) for b in session.scalars(select(Batch))}


def test_one_account_s_spent_quota_pauses_only_its_own_batches(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    # acme's urgent batch runs first: its second job finds acme's quota (40) spent
    spender = submit(database_url, tmp_path, "spender", "account: acme\npriority: urgent\n", 2)
    other = submit(database_url, tmp_path, "other", "priority: bulk\n", 1)
    rt = runtime(database_url, emulator, tmp_path)
    for job_id in spender:
        run_job(job_id, rt)
    assert statuses(database_url) == {
        "spender": (BatchStatus.PAUSED, "acme"),
        "other": (BatchStatus.QUEUED, "default"),
    }
    run_job(other[0], rt)
    assert statuses(database_url)["other"] == (BatchStatus.SUCCEEDED, "default")


def test_a_batch_of_an_account_the_worker_does_not_know_pauses_without_a_request(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    [job_id] = submit(database_url, tmp_path, "stray", "account: acme\n", 1)
    rt = runtime(database_url, emulator, tmp_path)
    rt.other_accounts = None
    run_job(job_id, rt)
    with session_scope(database_url) as session:
        batch = session.scalars(select(Batch)).one()
        assert batch.status is BatchStatus.PAUSED
        assert "unknown account 'acme'" in (batch.status_reason or "")
        assert session.get_one(Job, job_id).attempt_rows == []


def test_a_submission_over_http_names_a_registered_account_or_is_refused_with_422(
    postgres_url: str, tmp_path: Path
) -> None:
    secrets = accounts_file(tmp_path, "acme-key")
    stack = make_stack(postgres_url, tmp_path, accounts_file=secrets)
    body = {
        "batch": "for-acme",
        "account": "acme",
        "jobs": [{"id": "one", "kind": "dialogue", "inputs": [{"voice": HOST, "text": "One."}]}],
    }
    made = stack.client.post("/api/batches", headers=SCRIPT, json=body)
    assert made.status_code == 201, made.text
    with session_scope(postgres_url) as session:
        assert session.get_one(Batch, made.json()["batch_id"]).account == "acme"
    unknown = stack.client.post("/api/batches", headers=SCRIPT, json=body | {"account": "acm"})
    assert unknown.status_code == 422
    assert "unknown account 'acm' (did you mean 'acme'?)" in unknown.text
    flagged = stack.client.post("/api/batches?account=globex", headers=SCRIPT, json=body)
    assert flagged.status_code == 422 and "unknown account 'globex'" in flagged.text


def test_the_dashboard_shows_the_limiter_of_the_account_chosen(
    postgres_url: str, tmp_path: Path
) -> None:
    stack = make_stack(postgres_url, tmp_path, accounts_file=accounts_file(tmp_path, ACME_KEY))
    acme = stack.client.get("/api/limiter?account=acme").json()
    default = stack.client.get("/api/limiter").json()
    assert (acme["account"], acme["key_hash"]) == ("acme", key_hash(ACME_KEY))
    assert default["account"] == "default" and default["key_hash"] != acme["key_hash"]
    assert acme["accounts"] == ["acme", "default"]
    unknown = stack.client.get("/api/limiter?account=globex")
    assert unknown.status_code == 422 and "unknown account 'globex'" in unknown.text
    page = stack.client.get("/limiter?account=acme").text
    assert "<strong>acme</strong>" in page and 'href="?account=default"' in page


def test_the_quota_check_before_a_submission_asks_the_batch_s_own_account(
    sqlite_url: str, tmp_path: Path
) -> None:
    secrets = accounts_file(tmp_path, ACME_KEY)
    config = EmulatorConfig(api_keys=frozenset({DEFAULT_KEY, ACME_KEY}), quota_chars=40)
    with serve_in_thread(config) as short:
        settings = Settings(
            home=tmp_path / "home", database_url=sqlite_url, api_url=short.url,
            accounts_file=secrets,
        )  # fmt: skip
        client = Client(settings.with_overrides(api_key=SecretStr(DEFAULT_KEY)))
        httpx.post(  # acme spends 26 of its 40 characters; the default account spends none
            f"{short.url}/v1/text-to-dialogue",
            headers={"xi-api-key": ACME_KEY},
            json={"inputs": [{"voice_id": HOST, "text": "Knock knock, who is there?"}]},
            timeout=30,
        ).raise_for_status()
        job = {"id": "j", "kind": "dialogue", "inputs": [{"voice": HOST, "text": "x" * 20}]}
        manifest = {"batch": "twenty", "jobs": [job]}
        with pytest.raises(QuotaShortError, match="account 'acme' has 14 of 40 left"):
            client.submit(manifest, account="acme")
        assert client.submit(manifest).status == "queued"
        with pytest.raises(AccountNameError, match="unknown account 'globex'"):
            client.submit(manifest, account="globex")


def test_a_schedule_s_manifest_names_a_registered_account(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "nightly.yaml"
    job = f"{{id: j, kind: dialogue, inputs: [{{voice: {HOST}, text: Hi}}]}}"
    path.write_text(f"batch: nightly\naccount: acm\njobs:\n  - {job}\n")
    asked = ScheduleRequest("nightly", cron="0 3 * * *", manifest=str(path))
    with pytest.raises(ManifestError) as raised:
        add_schedule(database_url, asked, utcnow(), part_chars=4000, accounts={"default", "acme"})
    [problem] = raised.value.problems
    assert (problem.line, problem.field) == (2, "account")
    path.write_text(path.read_text().replace("acm\n", "acme\n"))
    added = add_schedule(
        database_url, asked, utcnow(), part_chars=4000, accounts={"default", "acme"}
    )
    assert added.name == "nightly"


def test_a_worker_builds_each_account_s_client_and_limiter_on_its_first_job(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    secrets = accounts_file(tmp_path, ACME_KEY)
    settings = Settings(
        home=tmp_path / "home", database_url=sqlite_url, redis_url=redis_url,
        accounts_file=secrets,
    ).with_overrides(api_key=SecretStr(DEFAULT_KEY))  # fmt: skip
    rt = build_runtime(settings, lambda queued: None)
    acme = rt.account("acme")
    assert rt.account("acme") is acme
    assert acme.backend == Backend.of(settings.api_url, ACME_KEY) != rt.backend
    with acme.limiter.slot("general"):  # its own pool: the default account's stays free
        assert (acme.limiter.state("general").in_use, rt.limiter.state("general").in_use) == (1, 0)
    assert rt.limiters() == [rt.limiter, acme.limiter]
    with pytest.raises(AccountNameError, match="unknown account 'globex'"):
        rt.account("globex")
