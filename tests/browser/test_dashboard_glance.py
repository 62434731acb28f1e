"""The dashboard read at a glance, in headless Chromium: times in ``AUDIOBATCH_TIME_ZONE`` with
how long ago, exact on hover; sizes, audio lengths and render times in units; a chart with axes
and a legend under the page's CSP; an episode's parts folded under it; an invalid upload answered
as a page of its problems; raw PCM and G.711 outputs playing in the page; costs in characters."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import update

from audiobatch.db.models import Attempt, Batch
from audiobatch.db.session import session_scope
from audiobatch.readable import size_text
from audiobatch.storage.local import LocalStorage
from tests.browser.conftest import Live, serve
from tests.episode_seed import PARTS, SeededSeason, seed_season

ZONE = "America/New_York"


@pytest.fixture
def live(postgres_url: str, tmp_path: Path) -> Iterator[Live]:
    yield from serve(postgres_url, tmp_path, time_zone=ZONE)


@pytest.fixture
def season(live: Live, tmp_path: Path) -> SeededSeason:
    return seed_season(live.database_url, LocalStorage(tmp_path / "renders"))


def csp_refusals(page: Page) -> list[str]:
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", note)
    return refused


def test_times_read_in_the_zone_with_how_long_ago_and_are_exact_on_hover(
    page: Page, live: Live
) -> None:
    page.goto(live.base)
    created = page.locator(f'tr[data-batch="{live.seeded.broken}"] time')
    expect(created).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T \(2\d min ago\)$"))
    exact = created.get_attribute("datetime")
    assert exact is not None and created.get_attribute("title") == exact
    with session_scope(live.database_url) as session:
        made = session.get_one(Batch, live.seeded.broken).created_at
    assert datetime.fromisoformat(exact) == made
    assert exact.endswith(("-05:00", "-04:00"))  # New York's offsets


def test_sizes_lengths_and_render_times_read_in_units(
    page: Page, live: Live, season: SeededSeason
) -> None:
    page.goto(f"{live.base}/jobs/{season.jobs['ep01/part-001']}")
    pcm = season.audio["ep01/part-001"]
    expect(page.locator(".output .size")).to_have_text(size_text(len(pcm)))
    expect(page.locator(".output .length")).to_have_text(f"0:{round(len(pcm) / 32000):02d}")
    expect(page.locator("table.attempts tbody td").nth(2)).to_have_text("1.6 min")
    expect(page.locator("dt:text('Took') + dd")).to_have_text("1.6 min")
    page.goto(f"{live.base}/batches/{season.batch}")
    outputs = sum(len(audio) for audio in season.audio.values())
    expect(page.locator('[data-field="outputs"]')).to_have_text(f"5 files, {size_text(outputs)}")


def test_the_chart_has_axes_with_units_and_a_legend_under_the_csp(page: Page, live: Live) -> None:
    refused = csp_refusals(page)
    page.goto(f"{live.base}/batches/{live.seeded.broken}")
    chart = page.locator("figure.chart svg")
    expect(chart.locator(".legend text")).to_have_text(
        ["1 succeeded", "2 failed", "3 failed attempts"]
    )
    expect(chart.locator(".y-axis text").first).to_have_text("0")
    expect(chart.locator(".y-axis text.title")).to_have_text(re.compile(r"^jobs / [\d.]+ (s|min)$"))
    expect(chart.locator(".x-axis text.title")).to_have_text(re.compile(r"^time \(E[SD]T\)$"))
    ticks = chart.locator(".x-axis text:not(.title)")
    expect(ticks.first).to_have_text(re.compile(r"^\d\d:\d\d(:\d\d)?$"))
    assert 2 <= ticks.count() <= 6
    assert chart.locator(".legend rect.ok").bounding_box() is not None
    assert refused == []


def test_an_episode_s_parts_are_folded_under_it(
    page: Page, live: Live, season: SeededSeason
) -> None:
    page.goto(f"{live.base}/batches/{season.batch}")
    jobs = page.locator("table.jobs > tbody > tr[data-job]")
    expect(jobs).to_have_count(2)
    parts = page.locator('tr[data-parts-of="ep01"] table.parts tr[data-job]')
    expect(parts).to_have_count(PARTS)
    expect(parts.first).to_be_hidden()
    page.get_by_text(f"{PARTS} parts of ep01 ({PARTS} rendered)").click()
    expect(parts.first).to_be_visible()
    expect(parts.first.locator("a").first).to_have_text("ep01/part-001")


def test_an_invalid_upload_answers_a_page_of_its_problems(
    page: Page, live: Live, tmp_path: Path
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "batch: bad\njobs:\n  - id: one\n    kind: dialogue\n    inputs: []\n"
        "  - id: two\n    kind: dialogue\n    inputs: [{voice: nobody, text: Hi.}]\n"
    )
    page.goto(live.base)
    page.locator('input[name="manifest"]').set_input_files(str(manifest))
    with page.expect_response(re.compile(r"/api/batches\?next=")) as answered:
        page.get_by_role("button", name="Submit").click()
    assert answered.value.status == 422
    expect(page.locator("h1")).to_have_text("Manifest refused")
    rows = page.locator("table.problems tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(
        ["bad.yaml", "5", "jobs[one].inputs", re.compile(".+")]
    )
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("8")


@pytest.mark.parametrize(("key", "name", "rate_hz", "width"), [
    ("ep01", "audio.pcm", 16000, 2), ("call", "audio.ulaw", 8000, 1),
])  # fmt: skip
def test_raw_pcm_and_g711_outputs_play_in_the_page(
    page: Page, live: Live, season: SeededSeason, key: str, name: str, rate_hz: int, width: int
) -> None:
    page.goto(f"{live.base}/jobs/{season.jobs[key]}")
    expect(page.locator(".output a").first).to_have_attribute(
        "href", f"/batches/{season.batch}/outputs/{key}/{name}"
    )
    audio = page.locator("audio")
    audio.evaluate("a => a.play()")
    deadline = time.monotonic() + 15  # polled from here: the page's CSP forbids eval
    while audio.evaluate("a => a.currentTime") <= 0.2:
        assert audio.evaluate("a => a.error && a.error.message") is None
        assert time.monotonic() < deadline, "the output did not play"
        page.wait_for_timeout(50)
    expected_s = len(season.audio[key]) / (rate_hz * width)
    assert audio.evaluate("a => a.duration") == pytest.approx(expected_s, abs=0.01)


def test_costs_read_in_characters_on_the_batch_list_the_batch_and_the_job(
    page: Page, live: Live
) -> None:
    intro = live.seeded.jobs[f"{live.seeded.done}/intro"]
    with session_scope(live.database_url) as session:
        session.execute(
            update(Attempt).where(Attempt.job_id == intro).values(character_cost=12_000)
        )
    page.goto(live.base)
    expect(page.locator("table.batches th").nth(4)).to_have_text("Cost")
    done = page.locator(f'tr[data-batch="{live.seeded.done}"] td').nth(4)
    expect(done).to_have_text("12,120 chars")  # and the theme's 120
    expect(page.locator(f'tr[data-batch="{live.seeded.nightly}"] td').nth(4)).to_have_text(
        "0 chars"
    )
    page.locator(f'tr[data-batch="{live.seeded.done}"]').get_by_role("link", name="demo").click()
    expect(page.locator("dt:text('Cost') + dd")).to_have_text("12,120 chars")
    page.get_by_role("link", name="intro").click()
    expect(page.locator("dt:text('Cost') + dd")).to_have_text("12,000 chars")
    expect(page.locator("table.attempts tbody td").nth(8)).to_have_text("12,000")
