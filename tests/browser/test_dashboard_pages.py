"""The dashboard as an operator uses it, in headless Chromium: open the pages, filter, play an
output, retry a failed job, cancel a batch, watch a batch move; with a token, log in first."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import select, update

from audiobatch.db.models import Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from tests.browser.conftest import Live, serve
from tests.dashboard_seed import HOSTILE, live_worker

TOKEN = "browser-operator-token"


def status_of(live: Live, batch_id: str, key: str) -> JobStatus:
    with session_scope(live.database_url) as session:
        return session.scalars(
            select(Job.status).where(Job.batch_id == batch_id, Job.key == key)
        ).one()


def accept_confirmations(page: Page) -> list[str]:
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def test_the_batch_list_shows_every_batch_with_its_progress(page: Page, live: Live) -> None:
    asked = accept_confirmations(page)
    page.goto(live.base)
    rows = page.locator("table.batches tbody tr")
    expect(rows).to_have_count(3)
    broken = page.locator(f'tr[data-batch="{live.seeded.broken}"]')
    expect(broken.locator('[data-field="status"]')).to_have_text("partial")
    expect(broken.locator('[data-field="counts"]')).to_have_text("1 succeeded, 2 failed")
    width = broken.locator('[data-seg="failed"]').evaluate("el => el.style.width")
    assert width.startswith("66.6")
    expect(page.locator("figure.chart svg rect.ok").first).to_be_attached()
    page.get_by_role("link", name="demo").click()
    expect(page.locator("dd", has_text=HOSTILE)).to_be_visible()  # the manifest's name, as text
    assert asked == []  # no script ran from it


def test_filters_narrow_the_batches_and_the_jobs(page: Page, live: Live) -> None:
    page.goto(live.base)
    page.get_by_label("Name").fill("bro")
    page.locator("#batch-filters").get_by_role("button", name="Filter").click()
    expect(page.locator("table.batches tbody tr")).to_have_count(1)
    page.get_by_role("link", name="broken").click()
    filters = page.locator("#job-filters")
    filters.get_by_label("failed", exact=True).check()
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{live.base}/batches/{live.seeded.broken}?status=failed")
    jobs = page.locator("table.jobs tbody tr")
    expect(jobs).to_have_count(2)
    page.locator("#job-filters").get_by_label("invalid_request").check()
    page.locator("#job-filters").get_by_role("button", name="Filter").click()
    expect(jobs).to_have_count(1)
    expect(jobs.first).to_contain_text("voice not found")


def test_an_output_plays_on_its_job_page(page: Page, live: Live) -> None:
    page.goto(live.job_url(live.seeded.done, "intro"))
    audio = page.locator("audio")
    expect(audio).to_have_count(1)
    audio.evaluate("a => a.play()")
    deadline = time.monotonic() + 15  # polled from here: the page's CSP forbids eval
    while audio.evaluate("a => a.currentTime") <= 0.3:
        assert time.monotonic() < deadline, "the output did not play"
        page.wait_for_timeout(50)
    assert audio.evaluate("a => a.duration") > 1
    assert audio.evaluate("a => a.error") is None
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)


def test_a_failed_job_is_retried_from_its_batch_page(page: Page, live: Live) -> None:
    page.goto(f"{live.base}/batches/{live.seeded.broken}")
    row = page.locator('tr[data-job="bad"]')
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".notice")).to_have_text("job bad of broken queued again")
    expect(row.locator(".status")).to_have_text("queued")
    assert status_of(live, live.seeded.broken, "bad") is JobStatus.QUEUED
    assert status_of(live, live.seeded.broken, "late") is JobStatus.FAILED


def test_a_batch_is_cancelled_from_its_page(page: Page, live: Live) -> None:
    asked = accept_confirmations(page)
    page.goto(f"{live.base}/batches/{live.seeded.nightly}")
    page.get_by_role("button", name="Cancel batch").click()
    expect(page.locator(".notice")).to_contain_text("3 job(s) of nightly cancelled")
    assert asked == ["Cancel every job of this batch that has not started?"]
    assert status_of(live, live.seeded.nightly, "n0") is JobStatus.CANCELLED
    assert status_of(live, live.seeded.nightly, "busy") is JobStatus.RUNNING


def test_a_running_batch_updates_itself(page: Page, live: Live) -> None:
    page.goto(f"{live.base}/batches/{live.seeded.nightly}")
    counts = page.locator('section.summary [data-field="counts"]')
    eta = page.locator('section.summary [data-field="eta"]')
    expect(counts).to_have_text("3 queued, 1 running")
    expect(eta).to_contain_text("(no live worker)")
    with session_scope(live.database_url) as session:
        session.execute(
            update(Job)
            .where(Job.batch_id == live.seeded.nightly, Job.key == "n0")
            .values(status=JobStatus.SUCCEEDED, finished_at=utcnow())
        )
    with live_worker(live.database_url):
        expect(counts).to_have_text("2 queued, 1 running, 1 succeeded", timeout=10_000)
        expect(eta).to_have_text(re.compile(r"^\d+(\.\d)? (s|min|h)$"))


@pytest.fixture
def guarded(postgres_url: str, tmp_path: Path) -> Iterator[Live]:
    yield from serve(postgres_url, tmp_path, dashboard_token=TOKEN)


def test_with_a_token_a_viewer_reads_and_an_operator_logs_in_to_act(
    page: Page, guarded: Live
) -> None:
    accept_confirmations(page)
    page.goto(f"{guarded.base}/batches/{guarded.seeded.broken}")
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    page.get_by_role("link", name="log in").click()
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".notice")).to_have_text("logged in as operator")
    page.goto(f"{guarded.base}/batches/{guarded.seeded.broken}")
    page.get_by_role("button", name="Retry 2 failed").click()
    expect(page.locator(".notice")).to_have_text("2 failed job(s) of broken queued again")
    assert status_of(guarded, guarded.seeded.broken, "late") is JobStatus.QUEUED


def test_a_schedule_runs_now_from_the_schedules_page(page: Page, live: Live) -> None:
    asked = accept_confirmations(page)
    page.goto(f"{live.base}/schedules")
    row = page.locator('tr[data-schedule="nightly"]')
    expect(row).to_contain_text("0 2 * * *")
    row.get_by_role("button", name="Run now").click()
    expect(page.locator(".notice")).to_contain_text("schedule nightly: fired, batch")
    assert asked == ["Fire nightly now?"]
    expect(row).to_contain_text("fired")


def test_a_manifest_uploaded_from_the_batch_list_becomes_a_batch(
    page: Page, live: Live, tmp_path: Path
) -> None:
    manifest = tmp_path / "upload.yaml"
    manifest.write_text(
        "batch: uploaded\njobs:\n  - id: one\n    kind: dialogue\n"
        "    inputs: [{voice: JBFqnCBsd6RMkjVDRZzb, text: One.}]\n"
    )
    page.goto(live.base)
    page.locator('input[name="manifest"]').set_input_files(str(manifest))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".notice")).to_contain_text("batch uploaded [")
    expect(page.locator("h1")).to_contain_text("uploaded")
    expect(page.locator('tr[data-job="one"] .status')).to_have_text("queued")


def test_the_api_docs_work_offline_under_the_content_security_policy(
    page: Page, live: Live
) -> None:
    elsewhere: list[str] = []
    page.route(
        re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"),
        lambda route: (elsewhere.append(route.request.url), route.abort()),
    )
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live.base}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/batches").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("audiobatch dashboard")
    page.goto(live.base)  # the pages themselves, too
    expect(page.locator("table.batches tbody tr")).to_have_count(3)
    assert elsewhere == [] and refused == []
