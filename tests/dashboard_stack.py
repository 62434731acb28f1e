"""A dashboard app over a seeded database and local storage, driven in-process by a TestClient
(as a browser on ``localhost`` reaches it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from audiobatch.config import Settings
from audiobatch.dashboard.app import create_app
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Job, JobStatus
from audiobatch.db.session import session_scope
from audiobatch.storage.local import LocalStorage
from tests.dashboard_seed import Seeded, seed
from tests.services import free_port

API_KEY = "sk-dashboard-secret-key-0123456789"
TOKEN = "operator-token-9876"
SCRIPT = {"X-Requested-By": "tests"}


@dataclass
class Stack:
    url: str
    settings: Settings
    seeded: Seeded
    client: TestClient

    def status_of(self, batch_id: str, key: str) -> JobStatus:
        with session_scope(self.url) as session:
            return session.scalars(
                select(Job.status).where(Job.batch_id == batch_id, Job.key == key)
            ).one()


def dashboard_settings(url: str, folder: Path, **settings: object) -> Settings:
    values = {
        "ELEVENLABS_API_KEY": API_KEY,
        "database_url": url,
        "storage_url": f"file://{folder / 'renders'}",
        "home": folder / "home",
        **settings,
    }
    return Settings(**values)  # type: ignore[arg-type]


def make_stack(url: str, folder: Path, **settings: object) -> Stack:
    upgrade(url)
    seeded = seed(url, LocalStorage(folder / "renders"), folder)
    configured = dashboard_settings(url, folder, **settings)
    client = TestClient(create_app(configured), base_url="http://localhost")
    return Stack(url, configured, seeded, client)


@contextmanager
def served(settings: Settings) -> Iterator[int]:
    """The dashboard served by uvicorn on a loopback port (yielded) until exit."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start within 20 s")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
