"""Screenshots of the pages an operator reads most: the batch list, a batch (an episode with its
parts, opened where they are folded) and a job (an output in raw PCM), saved to ``AUDIOBATCH_SCREENSHOTS`` (default: the
test's tmp folder) to be looked at."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from audiobatch.storage.local import LocalStorage
from tests.browser.conftest import Live
from tests.episode_seed import seed_season


def test_the_batch_list_a_batch_and_a_job_are_saved_as_screenshots(
    page: Page, live: Live, tmp_path: Path
) -> None:
    folder = Path(os.environ.get("AUDIOBATCH_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    season = seed_season(live.database_url, LocalStorage(tmp_path / "renders"))
    shots = {
        "batch-list": live.base,
        "batch": f"{live.base}/batches/{season.batch}",
        "job": f"{live.base}/jobs/{season.jobs['ep01']}",
    }
    for name, url in shots.items():
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        for folded in page.locator("details").all():  # shown open, where a page folds
            folded.locator("summary").click()
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        assert (folder / f"{name}.png").stat().st_size > 0
