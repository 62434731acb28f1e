"""Tags in headless Chromium: put on a batch and taken off from its page, and the batch list
filtered by a tag, from a tag's link and from the filter form."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from audiobatch.db.models import Batch
from audiobatch.db.reports import batch_summary
from audiobatch.db.session import session_scope
from tests.browser.conftest import Live


def tags_of(live: Live, batch_id: str) -> list[str]:
    with session_scope(live.database_url) as session:
        tags: list[str] = batch_summary(session, session.get_one(Batch, batch_id))["tags"]
        return tags


def tag(page: Page, live: Live, batch_id: str, name: str) -> None:
    page.goto(f"{live.base}/batches/{batch_id}")
    form = page.locator("#add-tag")
    form.get_by_label("Tag").fill(name)
    form.get_by_role("button", name="Add tag").click()
    expect(page.locator(".notice")).to_contain_text(f"tagged {name}")


def test_a_tag_is_put_on_a_batch_and_taken_off_from_its_page(page: Page, live: Live) -> None:
    tag(page, live, live.seeded.broken, "keep")
    tag(page, live, live.seeded.broken, "review")
    expect(page.locator(".notice")).to_have_text("batch broken tagged review: keep, review")
    tags = page.locator("dd.tags .tagged")
    expect(tags).to_have_count(2)
    assert tags_of(live, live.seeded.broken) == ["keep", "review"]
    page.locator('[data-tagged="keep"]').get_by_role("button", name="remove").click()
    expect(page.locator(".notice")).to_have_text("tag keep taken off batch broken")
    expect(tags).to_have_count(1)
    expect(tags.first.locator("a.tag")).to_have_text("review")
    assert tags_of(live, live.seeded.broken) == ["review"]


def test_the_batch_list_filters_by_a_tag_s_link_and_by_the_form(page: Page, live: Live) -> None:
    tag(page, live, live.seeded.broken, "keep")
    tag(page, live, live.seeded.done, "keep")
    tag(page, live, live.seeded.done, "final")
    page.goto(live.base)
    rows = page.locator("table.batches tbody tr")
    expect(rows).to_have_count(3)
    page.locator(f'tr[data-batch="{live.seeded.done}"] a[data-tag="keep"]').click()
    expect(page).to_have_url(f"{live.base}/?tag=keep")
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Tag", exact=True)).to_have_value("keep")
    page.get_by_label("Tag", exact=True).fill("final")
    page.locator("#batch-filters").get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("demo")
