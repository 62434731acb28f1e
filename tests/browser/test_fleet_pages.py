"""The fleet as an operator sees it in headless Chromium: the banner while jobs wait on queues no
live worker serves, the workers page reached from the navigation, the banner gone once a worker
is live."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from audiobatch.db.session import session_scope
from tests.browser.conftest import Live
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
