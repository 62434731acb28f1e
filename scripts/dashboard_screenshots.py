"""Screenshots of the dashboard (docs/dashboard.md): the batch list, a batch and a job, rendered in
headless chromium over a fresh SQLite database seeded with the same rows whatever the version.

The rows are written through the tables as the database has them (reflected, not the models), so
the script also renders an older checkout of audiobatch: put it first on PYTHONPATH.

    PYTHONPATH=. .venv/bin/python scripts/dashboard_screenshots.py docs/screenshots/after
    PYTHONPATH=. .venv/bin/python scripts/dashboard_screenshots.py /tmp/shots --width 800 --all

``--all`` adds every other page (schedules, workers, limiter, a batch of 1,200 jobs).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright
from sqlalchemy import Connection, MetaData, Table, create_engine

from audiobatch.config import Settings
from audiobatch.dashboard.app import create_app
from audiobatch.db.migrate import upgrade
from audiobatch.emulator.audio import OutputFormat, Turn, render
from audiobatch.storage.local import LocalStorage

VOICE = "JBFqnCBsd6RMkjVDRZzb"
MAX_HEIGHT_PX = 1600
BIG_JOBS = 1_200
SEASON, NEWS, PROMO = "b7f3a9c2e1d04b6a", "b1c2d3e4f5a6b7c8", "b9e8d7c6b5a4f3e2"


class Seeder:
    """Rows written through the reflected tables: columns a version lacks are left out."""

    def __init__(self, conn: Connection, storage: LocalStorage, now: datetime) -> None:
        self.conn, self.storage, self.now = conn, storage, now
        self.tables = MetaData()
        self.tables.reflect(conn)
        self.audio, _ = render(
            [Turn(VOICE, "Welcome to the show.")], OutputFormat.parse("mp3_22050_32")
        )

    def insert(self, table: str, row: dict[str, Any]) -> Any:
        """Write ``row`` into ``table`` (its columns only); the row's primary key."""
        into: Table = self.tables.tables[table]
        kept = {column: value for column, value in row.items() if column in into.c}
        written = self.conn.execute(into.insert(), kept).inserted_primary_key
        return None if written is None else written[0]

    def batch(
        self, batch_id: str, name: str, status: str, ago_min: int, took_min: int | None
    ) -> None:
        created = self.now - timedelta(minutes=ago_min)
        ended = None if took_min is None else created + timedelta(minutes=took_min)
        self.insert(
            "batches",
            {
                "id": batch_id,
                "name": name,
                "status": status,
                "manifest_sha256": hashlib.sha256(name.encode()).hexdigest(),
                "source": f"/srv/manifests/{name}.yaml",
                "fresh": False,
                "created_at": created,
                "finished_at": ended,
                "results_at": ended,
                "priority": 50,
                "account": "default",
                "backend": "api.elevenlabs.io",
            },
        )

    def job(self, batch_id: str, key: str, status: str, at: datetime, **extra: Any) -> int:
        spec = {
            "id": key,
            "inputs": [{"voice": VOICE, "text": f"{key}, spoken."}],
            "output_format": "mp3_22050_32",
        }
        ended = status in ("succeeded", "failed")
        row = {
            "batch_id": batch_id,
            "key": key,
            "kind": "dialogue",
            "queue": "dialogue",
            "spec": spec,
            "status": status,
            "attempts": 1 if ended else 0,
            "lost_leases": 0,
            "created_at": at,
            "started_at": at if ended or status == "running" else None,
            "finished_at": at + timedelta(seconds=84) if ended else None,
            "published_at": at,
            **extra,
        }
        return int(self.insert("jobs", row))

    def attempt(
        self,
        job_id: int,
        batch_id: str,
        number: int,
        at: datetime,
        outcome: str,
        status: int,
        code: str | None = None,
        cost: int | None = None,
    ) -> None:
        self.insert(
            "attempts",
            {
                "job_id": job_id,
                "batch_id": batch_id,
                "number": number,
                "worker": "render-1:4121",
                "started_at": at,
                "finished_at": at + timedelta(seconds=84),
                "outcome": outcome,
                "http_status": status,
                "error_code": code,
                "error_message": f"{code}: answered {status}" if code else None,
                "request_id": f"req-{job_id}-{number}",
                "latency_ms": 84_000 if cost else 900,
                "character_cost": cost,
            },
        )

    def output(self, job_id: int, batch_id: str, path: str, at: datetime) -> None:
        stored = self.storage.write(f"{path}/audio.mp3", [self.audio], "audio/mpeg")
        self.insert(
            "artifacts",
            {
                "job_id": job_id,
                "batch_id": batch_id,
                "name": "audio.mp3",
                "key": stored.key,
                "uri": stored.uri,
                "bytes": stored.bytes,
                "sha256": stored.sha256,
                "content_type": "audio/mpeg",
                "created_at": at,
            },
        )

    def rendered(self, batch_id: str, key: str, at: datetime, **extra: Any) -> int:
        job_id = self.job(batch_id, key, "succeeded", at, **extra)
        self.attempt(job_id, batch_id, 1, at, "succeeded", 200, cost=480 + 7 * len(key))
        self.output(job_id, batch_id, f"{batch_id}/{key}", at)
        return job_id


def seed(url: str, renders: Path) -> dict[str, str]:
    """The rows behind the screenshots; the paths of the pages shown, by name."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        s = Seeder(conn, LocalStorage(renders), now)
        s.batch(SEASON, "season-one", "partial", 50, 12)
        at = now - timedelta(minutes=48)
        episode = s.rendered(SEASON, "ep01", at)
        for n in range(1, 4):
            s.rendered(SEASON, f"ep01/part-{n:03d}", at, part_of=episode)
        s.rendered(SEASON, "ep02", at)
        failed = s.job(
            SEASON,
            "ep03",
            "failed",
            at,
            attempts=3,
            error_code="invalid_request",
            error="voice not found: check the voice id in the manifest",
        )
        for number, (outcome, status, code) in enumerate(
            [
                ("retry", 503, "system_busy"),
                ("retry", 429, "too_many_concurrent_requests"),
                ("failed", 422, "invalid_request"),
            ],
            start=1,
        ):
            s.attempt(failed, SEASON, number, at, outcome, status, code)
        s.batch(NEWS, "nightly-news", "succeeded", 30, 25)
        at = now - timedelta(minutes=29)
        for n in range(BIG_JOBS):
            job_id = s.job(NEWS, f"story-{n:04d}", "succeeded", at + timedelta(seconds=n))
            s.attempt(job_id, NEWS, 1, at + timedelta(seconds=n), "succeeded", 200, cost=640)
        s.batch(PROMO, "promo-spots", "running", 5, None)
        for n in range(6):
            s.job(
                PROMO,
                f"spot-{n}",
                "queued" if n > 1 else "running",
                now - timedelta(minutes=4),
            )
    engine.dispose()
    return {
        "batch-list": "/",
        "batch": f"/batches/{SEASON}",
        "job": f"/jobs/{episode}",
        "batch-1200-jobs": f"/batches/{NEWS}",
        "schedules": "/schedules",
        "workers": "/workers",
        "limiter": "/limiter",
        "job-failed": f"/jobs/{failed}",
    }


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The dashboard's base URL while uvicorn serves it (not tests.dashboard_stack.served, which an
    older checkout may not have)."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder the PNG files go to")
    parser.add_argument("--width", type=int, default=1280, help="the window's width in px")
    parser.add_argument(
        "--all", action="store_true", help="every page, not only the three of the docs"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/dashboard.db"
        upgrade(url)
        pages = seed(url, Path(folder) / "renders")
        if not args.all:
            pages = {name: pages[name] for name in ("batch-list", "batch", "job")}
        values = {
            "database_url": url,
            "storage_url": f"file://{folder}/renders",
            "home": Path(folder) / "home",
        }
        known = {
            k: v for k, v in values.items() if k in Settings.model_fields
        }  # as the version has
        settings = Settings(**known)  # type: ignore[arg-type]
        with serving(settings) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True
            )
            page = browser.new_page(viewport={"width": args.width, "height": 900})
            for name, path in pages.items():
                started = time.monotonic()
                page.goto(base + path)
                loaded_s = time.monotonic() - started
                for folded in page.locator("details").all():  # shown open, where a page folds
                    folded.locator("summary").click()
                height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT_PX)
                page.screenshot(
                    path=str(args.out / f"{name}.png"),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": args.width, "height": height},
                )
                print(f"{name}: {base + path} in {loaded_s:.2f} s -> {args.out / name}.png")
            browser.close()


if __name__ == "__main__":
    main()
