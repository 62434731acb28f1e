"""What batches cost and what the account has left: characters per job and batch (from the API's
``character-cost`` header, else the text), music minutes, the emulator's subscription endpoint,
budgets set at submission, and quota-paused batches that continue at the account's reset."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from audiobatch.account_check import check_account
from audiobatch.config import Settings
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.reconcile import tick
from audiobatch.db.reports import batch_report, jobs_report
from audiobatch.db.session import session_scope
from audiobatch.db.submit import Spending, insert_batch
from audiobatch.elevenlabs.account import read_subscription
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.errors import AccountError
from audiobatch.limiter import LocalLimiter
from audiobatch.manifest import Manifest
from audiobatch.render.runner import run_job
from audiobatch.storage import open_storage
from tests.hostile_api import Canned, HostileApi
from tests.integration.test_render_pipeline import DIALOGUE, KEY, manifest, runtime

LINE_CHARS = len("Knock knock.Who is there?")
NUMBERED_CHARS = len("Knock 0.Who is there?")  # a line of lines()
MUSIC = """  - id: theme
    kind: music
    prompt: "Warm lo-fi intro"
    music_length_ms: 6000
"""


def submit(database_url: str, m: Manifest, spending: Spending = Spending()) -> tuple[str, dict]:
    with session_scope(database_url) as session:
        batch = insert_batch(session, m, utcnow(), spending=spending)
        jobs = session.scalars(select(Job).where(Job.batch_id == batch.id))
        return batch.id, {job.key: job.id for job in jobs}


def lines(count: int) -> str:
    return "".join(
        DIALOGUE.replace("id: line", f"id: line{n}").replace("Knock knock.", f"Knock {n}.")
        for n in range(count)
    )


def test_the_emulator_serves_the_accounts_subscription_from_its_quota() -> None:
    with serve_in_thread(EmulatorConfig(quota_chars=1000, quota_period_s=3600)) as emulator:
        url = f"{emulator.url}/v1/user/subscription"
        assert httpx.get(url).status_code == 401  # no key
        body = {"inputs": [{"text": "Knock knock.", "voice_id": "JBFqnCBsd6RMkjVDRZzb"}]}
        spoken = httpx.post(
            f"{emulator.url}/v1/text-to-dialogue", json=body, headers={"xi-api-key": "k"}
        )
        assert spoken.status_code == 200
        answer = httpx.get(url, headers={"xi-api-key": "k"}).json()
        subscription = read_subscription(ElevenLabsClient(emulator.url, "k"))
    assert answer["character_count"] == int(spoken.headers["character-cost"]) == 12
    assert answer["character_limit"] == 1000
    reset = datetime.fromtimestamp(answer["next_character_count_reset_unix"], UTC)
    assert utcnow() < reset <= utcnow() + timedelta(seconds=3601)
    assert (subscription.character_count, subscription.remaining) == (12, 988)
    assert subscription.next_reset_at == reset


def test_reading_the_subscription_with_a_refused_key_raises_the_account_error() -> None:
    config = EmulatorConfig(api_keys=frozenset({"good"}))
    with serve_in_thread(config) as emulator, pytest.raises(AccountError):
        read_subscription(ElevenLabsClient(emulator.url, "bad"))


SUBSCRIPTION = {"tier": "creator", "character_count": 5, "character_limit": 10}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Canned(b"<html>Gateway</html>", "text/html"), "Gateway"),
        (Canned(b"{" + b" " * 50_000_000 + b"}", "application/json"), "larger than"),
        (Canned(json.dumps({"tier": "x"}).encode(), "application/json"), "no whole"),
        (Canned(json.dumps({**SUBSCRIPTION, "character_count": -5}).encode(), "application/json"), "no whole"),
        (Canned(b'{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}', "application/json", 401), "Invalid API key"),
        (Canned(b'{"detail":{"status":"system_busy","message":"Busy"}}', "application/json", 429), "Busy"),
        (Canned(b"oops", "text/plain", 500), "oops"),
    ],
)  # fmt: skip
def test_a_subscription_answer_that_cannot_be_read_says_why_and_blocks_nothing(
    answer: Canned, reason: str
) -> None:
    with HostileApi(answer) as api:
        found = check_account(Settings(api_url=api.url, ELEVENLABS_API_KEY=KEY))
    assert found.subscription is None
    assert found.unchecked is not None and reason in found.unchecked


@pytest.mark.parametrize("reset", [None, 0, 10**15, 1.9e9, "1900000000"])
def test_a_subscription_answer_with_any_reset_time_is_read(reset: object) -> None:
    body = {**SUBSCRIPTION, "next_character_count_reset_unix": reset}
    with HostileApi(Canned(json.dumps(body).encode(), "application/json")) as api:
        found = check_account(Settings(api_url=api.url, ELEVENLABS_API_KEY=KEY))
    assert found.subscription is not None and found.subscription.remaining == 5


def test_characters_and_music_minutes_per_job_and_batch_reach_status_jobs_and_results(
    database_url: str, tmp_path: Path
) -> None:
    batch_id, ids = submit(database_url, manifest(tmp_path, DIALOGUE + MUSIC))
    with serve_in_thread(EmulatorConfig(api_keys=frozenset({KEY}))) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        for job_id in ids.values():
            run_job(job_id, rt)
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        report, rows = batch_report(session, batch), jobs_report(session, batch)
    by_id = {job["id"]: job for job in report["jobs"]}
    assert by_id["line"]["characters"] == LINE_CHARS
    assert by_id["theme"]["music_minutes"] == 0.1
    assert (report["characters"], report["music_minutes"]) == (LINE_CHARS, 0.1)
    assert {row["id"]: row["characters"] for row in rows} == {"line": LINE_CHARS, "theme": 0}
    results = tmp_path / "renders" / "pipe" / batch_id / "results.json"
    assert json.loads(results.read_text())["characters"] == LINE_CHARS


def test_without_a_character_cost_header_the_text_gives_the_characters(
    database_url: str, tmp_path: Path
) -> None:
    with serve_in_thread(EmulatorConfig()) as emulator:  # the very audio, served headerless
        body = {
            "inputs": [
                {"text": "Knock knock.", "voice_id": "JBFqnCBsd6RMkjVDRZzb"},
                {"text": "Who is there?", "voice_id": "Aw4FAjKCGjjNkVhN1Xmq"},
            ]
        }
        audio = httpx.post(
            f"{emulator.url}/v1/text-to-dialogue", json=body, headers={"xi-api-key": "k"}
        ).content
    batch_id, ids = submit(database_url, manifest(tmp_path, DIALOGUE))
    with HostileApi(Canned(audio, "audio/mpeg")) as api:
        rt, _ = runtime(database_url, api, tmp_path)  # type: ignore[arg-type]
        run_job(ids["line"], rt)
    with session_scope(database_url) as session:
        report = batch_report(session, session.get_one(Batch, batch_id))
    assert report["jobs"][0]["status"] == "succeeded"
    assert report["characters"] == report["jobs"][0]["characters"] == LINE_CHARS


def test_a_budget_given_at_submission_pauses_the_batch_once_spent(
    database_url: str, tmp_path: Path
) -> None:
    batch_id, ids = submit(
        database_url, manifest(tmp_path, lines(3)), Spending(character_budget=NUMBERED_CHARS)
    )
    with serve_in_thread(EmulatorConfig(api_keys=frozenset({KEY}))) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        run_job(ids["line0"], rt)
        run_job(ids["line1"], rt)  # its wake-up finds it paused
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        assert batch.status is BatchStatus.PAUSED
        assert "character budget reached" in (batch.status_reason or "")
        assert batch.resume_at is None  # a budget's pause waits for an operator
        assert session.get_one(Job, ids["line1"]).status is JobStatus.PAUSED


def test_jobs_claimed_while_the_budget_was_being_spent_do_not_call_the_api(
    database_url: str, tmp_path: Path
) -> None:
    """Six workers' threads claim a job each at once, and wait for the one limiter slot; the job
    that has it spends the budget. The five others never call the API: each finds the batch
    paused when its turn at the slot comes, and waits paused for ``resume``."""
    waiting = 6
    batch_id, ids = submit(
        database_url, manifest(tmp_path, lines(waiting)), Spending(character_budget=NUMBERED_CHARS)
    )
    with serve_in_thread(EmulatorConfig(api_keys=frozenset({KEY}), latency_ms=50)) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        rt.limiter = LocalLimiter({"general": 1, "music": 1})
        start = threading.Barrier(waiting)

        def work(job_id: int) -> None:
            start.wait()
            run_job(job_id, rt)

        with ThreadPoolExecutor(waiting) as pool:
            list(pool.map(work, ids.values()))
        generations = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    assert len(generations) == 1
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        assert batch.status is BatchStatus.PAUSED
        statuses = sorted(
            j.status for j in session.scalars(select(Job).where(Job.batch_id == batch_id))
        )
    assert statuses == sorted([JobStatus.SUCCEEDED] + [JobStatus.PAUSED] * (waiting - 1))


@pytest.mark.parametrize(
    ("asked", "by_default", "continues"),
    [(True, False, True), (None, True, True), (None, False, False), (False, True, False)],
)
def test_a_quota_paused_batch_continues_at_the_accounts_reset_when_asked(
    database_url: str,
    tmp_path: Path,
    asked: bool | None,
    by_default: bool,
    continues: bool,
) -> None:
    batch_id, ids = submit(
        database_url, manifest(tmp_path, lines(3)), Spending(continue_at_reset=asked)
    )
    config = EmulatorConfig(quota_chars=NUMBERED_CHARS, quota_period_s=3600)
    with serve_in_thread(config) as emulator:
        rt, published = runtime(database_url, emulator, tmp_path)
        rt.continue_at_reset = by_default
        run_job(ids["line0"], rt)
        run_job(ids["line1"], rt)  # the quota is spent: the batch pauses
        reset = read_subscription(rt.client).next_reset_at
    assert reset is not None
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        assert batch.status is BatchStatus.PAUSED
        report = batch_report(session, batch)
    assert report["continues_at"] == (reset.isoformat() if continues else None)
    storage = open_storage(f"file://{tmp_path / 'renders'}")

    def reconcile(now: datetime) -> None:
        tick(database_url, published.extend, storage, now, 300.0, 3)

    reconcile(reset - timedelta(seconds=1))
    with session_scope(database_url) as session:
        assert session.get_one(Batch, batch_id).status is BatchStatus.PAUSED
    reconcile(reset)
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        statuses = {session.get_one(Job, ids[f"line{n}"]).status for n in (1, 2)}
    if continues:
        assert batch.status is BatchStatus.RUNNING and batch.resume_at is None
        assert statuses == {JobStatus.QUEUED}
    else:
        assert batch.status is BatchStatus.PAUSED
        assert statuses == {JobStatus.PAUSED}


def test_a_reset_the_hosts_clock_has_passed_is_asked_again_later_not_at_the_next_tick(
    database_url: str, tmp_path: Path
) -> None:
    """The host's clock runs two hours ahead of the API's: the reset the API names is already
    past here. Continuing then would send a request the quota refuses at every tick."""
    batch_id, ids = submit(
        database_url, manifest(tmp_path, lines(3)), Spending(continue_at_reset=True)
    )
    config = EmulatorConfig(quota_chars=NUMBERED_CHARS, quota_period_s=3600)
    with serve_in_thread(config) as emulator:
        rt, published = runtime(database_url, emulator, tmp_path)
        ahead = rt.clock() + timedelta(hours=2)
        rt.clock = lambda: ahead
        run_job(ids["line0"], rt)
        run_job(ids["line1"], rt)  # the quota is spent: the batch pauses
        reset = read_subscription(rt.client).next_reset_at
    assert reset is not None and reset < ahead
    storage = open_storage(f"file://{tmp_path / 'renders'}")
    tick(database_url, published.extend, storage, ahead, 300.0, 3)
    with session_scope(database_url) as session:
        batch = session.get_one(Batch, batch_id)
        assert batch.status is BatchStatus.PAUSED
        assert batch.resume_at is not None and batch.resume_at > ahead
