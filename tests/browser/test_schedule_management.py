"""Schedules managed from the schedules page in headless Chromium: added through the form (a bad
value shown beside its field), paused, resumed and removed."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from audiobatch.db import schedules
from audiobatch.db.session import session_scope
from tests.browser.conftest import Live
from tests.browser.test_dashboard_pages import accept_confirmations


def enabled(live: Live, name: str) -> bool:
    with session_scope(live.database_url) as session:
        return schedules.find_schedule(session, name).enabled


def names(live: Live) -> list[str]:
    with session_scope(live.database_url) as session:
        return [s.name for s in schedules.list_schedules(session)]


def test_a_schedule_is_added_from_the_form_after_its_bad_cron_is_shown(
    page: Page, live: Live, tmp_path: Path
) -> None:
    page.goto(f"{live.base}/schedules")
    form = page.locator("#add-schedule")
    form.get_by_label("Name").fill("news")
    form.get_by_label("Cron").fill("99 2 * * *")
    form.get_by_label("Time zone").fill("Europe/Berlin")
    form.get_by_label("Manifest").fill(str(tmp_path / "nightly.yaml"))
    form.get_by_label("Overlap").select_option("allow")
    form.get_by_role("button", name="Add").click()
    expect(page.locator('[data-error="cron"]')).to_contain_text("minute '99'")
    expect(form.get_by_label("Time zone")).to_have_value("Europe/Berlin")  # kept
    assert names(live) == ["nightly"]
    form.get_by_label("Cron").fill("30 2 * * *")
    form.get_by_role("button", name="Add").click()
    expect(page.locator(".notice")).to_contain_text(
        "schedule news added: 30 2 * * * (Europe/Berlin)"
    )
    row = page.locator('tr[data-schedule="news"]')
    expect(row).to_contain_text("Europe/Berlin")
    expect(page.locator('[data-error="cron"]')).to_have_count(0)
    assert names(live) == ["news", "nightly"]


def test_a_schedule_is_paused_resumed_and_removed_from_its_row(page: Page, live: Live) -> None:
    asked = accept_confirmations(page)
    page.goto(f"{live.base}/schedules")
    row = page.locator('tr[data-schedule="nightly"]')
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".notice")).to_have_text("schedule nightly paused")
    expect(row.locator(".status.paused")).to_have_text("paused")
    assert not enabled(live, "nightly")
    row.get_by_role("button", name="Resume").click()
    expect(page.locator(".notice")).to_contain_text("schedule nightly resumed; next run")
    expect(row.locator(".status.paused")).to_have_count(0)
    assert enabled(live, "nightly")
    row.get_by_role("button", name="Remove").click()
    expect(page.locator(".notice")).to_have_text("schedule nightly removed")
    expect(row).to_have_count(0)
    assert asked == ["Remove nightly and its history? Its batches stay."]
    assert names(live) == []
