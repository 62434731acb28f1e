"""The fleet as an operator sees it in headless Chromium: the banner on every page while jobs
wait on queues no live worker serves, gone once a worker is live; the workers page reached from
the navigation, a row per process; the limiter page with the slots in use of the shared limiter
and the jobs live workers hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from audiobatch.db.models import WorkerProcess
from audiobatch.db.session import session_scope
from audiobatch.deployment import build_limiter
from tests.browser.conftest import Live, serve
from tests.dashboard_seed import live_worker
from tests.state import heartbeat


def test_the_banner_and_the_workers_page_show_the_fleet(
    page: Page, live: Live, tmp_path: Path
) -> None:
    with session_scope(live.database_url) as session:
        heartbeat(session, "render-host-1-ab12", seen_s_ago=900)  # killed a quarter hour ago
    page.goto(live.base)
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("No live worker serves the queue(s) dialogue")
    page.screenshot(path=str(tmp_path / "batches-with-banner.png"), full_page=True)

    page.get_by_role("navigation").get_by_role("link", name="Workers").click()
    expect(page).to_have_url(f"{live.base}/workers")
    expect(page.get_by_role("alert")).to_be_visible()
    gone = page.locator('tr[data-worker="render-host-1-ab12"]')
    expect(gone.locator('[data-field="state"]')).to_have_text("gone")
    expect(gone).to_contain_text("15 min ago")
    page.screenshot(path=str(tmp_path / "workers-gone.png"), full_page=True)

    with live_worker(live.database_url):
        page.reload()
        expect(page.locator('tr[data-state="live"]')).to_have_count(1)
        expect(page.get_by_role("alert")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "workers-live.png"), full_page=True)
    shots = ["batches-with-banner.png", "workers-gone.png", "workers-live.png"]
    assert all((tmp_path / name).stat().st_size > 0 for name in shots)


def test_the_banner_is_on_every_page_until_a_worker_is_live(page: Page, live: Live) -> None:
    paths = [
        "/", f"/batches/{live.seeded.nightly}", live.job_url(live.seeded.nightly, "n0"),
        "/schedules", "/workers", "/limiter",
    ]  # fmt: skip
    for path in paths:
        page.goto(path if path.startswith("http") else live.base + path)
        expect(page.get_by_role("alert")).to_contain_text(
            "No live worker serves the queue(s) dialogue that jobs wait on"
        )
        expect(page.get_by_role("alert").get_by_role("link", name="Workers")).to_be_visible()
    with live_worker(live.database_url):
        for path in paths:
            page.goto(path if path.startswith("http") else live.base + path)
            expect(page.locator("h1")).to_be_visible()
            expect(page.get_by_role("alert")).to_have_count(0)


def hold_jobs(live: Live, worker: str, **values: object) -> int:
    """A live heartbeat of ``worker`` holding the nightly batch's running job (its id)."""
    busy = live.seeded.jobs[f"{live.seeded.nightly}/busy"]
    with session_scope(live.database_url) as session:
        heartbeat(session, worker, seen_s_ago=2)
        session.execute(
            update(WorkerProcess)
            .where(WorkerProcess.id == worker)
            .values(jobs_in_hand=[busy], **values)
        )
    return busy


def test_the_workers_page_shows_each_process_host_queues_concurrency_and_jobs_in_hand(
    page: Page, live: Live
) -> None:
    busy = hold_jobs(
        live, "render-2-4121-cd34", host="render-2", queues=["dialogue", "music"], concurrency=8
    )
    page.goto(f"{live.base}/workers")
    expect(page.locator("table.workers th")).to_have_text([
        "Host", "Process", "Role", "Queues", "Concurrency", "Jobs in hand", "Last seen", "State",
    ])  # fmt: skip
    row = page.locator('tr[data-worker="render-2-4121-cd34"]')
    expect(row.locator("td")).to_have_text([
        "render-2", re.compile(r"^render-2-4121-cd34\s*pid 1, vtest$"), "worker", "dialogue, music",
        "8", f"1: {busy}", re.compile(r"^(\d s ago|just now)$"), "live",
    ])  # fmt: skip
    row.get_by_role("link", name=str(busy)).click()
    expect(page).to_have_url(live.job_url(live.seeded.nightly, "busy"))


@pytest.fixture
def shared(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[Live]:
    """The dashboard of workers that share their limiter through Redis."""
    yield from serve(postgres_url, tmp_path, redis_url=redis_url)


def test_the_limiter_page_shows_the_slots_in_use_and_the_jobs_in_hand(
    page: Page, shared: Live
) -> None:
    hold_jobs(shared, "render-1-77-ef56")
    with build_limiter(shared.settings).slot("general"):
        page.goto(f"{shared.base}/limiter")
        expect(page.locator("main")).to_contain_text("shared through Redis")
        general = page.locator('tr[data-pool="general"]')
        expect(general.locator('[data-field="in_use"]')).to_have_text("1")
        expect(general.locator('[data-field="jobs_in_hand"]')).to_have_text("1")
        expect(page.locator('tr[data-pool="music"] [data-field="in_use"]')).to_have_text("0")
    page.reload()
    expect(general.locator('[data-field="in_use"]')).to_have_text("0")
