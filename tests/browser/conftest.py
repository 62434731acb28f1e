"""Browser tests: Debian's chromium, headless, driven by Playwright, against a dashboard served
by uvicorn over real PostgreSQL. A missing chromium fails with the command that installs it.
Each test's last screen is saved as ``<test name>.png`` into the folder ``AUDIOBATCH_SCREENSHOTS``
names, else into the test's temporary folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from audiobatch.config import Settings
from audiobatch.db.migrate import upgrade
from audiobatch.storage.local import LocalStorage
from tests.dashboard_seed import Seeded, seed
from tests.dashboard_stack import dashboard_settings, served

FIX = "run `bash scripts/ensure-services` (installs chromium from Debian's packages)"


@dataclass
class Live:
    """A dashboard being served: its base URL, its database, what was seeded and its settings."""

    base: str
    database_url: str
    seeded: Seeded
    settings: Settings

    def job_url(self, batch_id: str, key: str) -> str:
        return f"{self.base}/jobs/{self.seeded.jobs[f'{batch_id}/{key}']}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError(f"chromium is not installed: {FIX}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the test's screenshots go."""
    folder = Path(os.environ.get("AUDIOBATCH_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, screenshots: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    opened.screenshot(path=str(screenshots / f"{request.node.name}.png"), full_page=True)
    context.close()


def serve(postgres_url: str, folder: Path, **settings: object) -> Iterator[Live]:
    upgrade(postgres_url)
    seeded = seed(postgres_url, LocalStorage(folder / "renders"), folder)
    configured = dashboard_settings(postgres_url, folder, **settings)
    with served(configured) as port:
        yield Live(f"http://127.0.0.1:{port}", postgres_url, seeded, configured)


@pytest.fixture
def live(postgres_url: str, tmp_path: Path) -> Iterator[Live]:
    """The dashboard over the seeded database; it may read local manifests from ``tmp_path``."""
    yield from serve(postgres_url, tmp_path, source_roots=(tmp_path,))
