"""The lock's audit runs only where PyPI's vulnerability records answer, and says when it does not."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.services import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_lock.py"
unanswered: Callable[[str, str, str, float], str | None] = runpy.run_path(str(SCRIPT))["unanswered"]


@contextmanager
def records_server(status: int, body: bytes) -> Iterator[str]:
    """An HTTP server answering every GET with ``status`` and ``body``; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/pypi"
    finally:
        server.shutdown()
        server.server_close()


def audit(records_url: str, lock: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--records-url", records_url, str(lock)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("# made by make lock\nalembic==1.20.1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    return path


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (404, b"Not Found", "404"),  # a mirror that serves the package index only
        (200, json.dumps({"info": {}}).encode(), "no vulnerability record"),
        (200, b"<html>a captive portal</html>", "alembic/1.20.1/json"),
    ],
)
def test_the_audit_is_skipped_with_a_notice_where_the_records_do_not_answer(
    lock: Path, status: int, body: bytes, why: str
) -> None:
    with records_server(status, body) as url:
        result = audit(url, lock)
    assert result.returncode == 0
    assert result.stdout.startswith("vulnerability audit skipped:")
    assert why in result.stdout


def test_the_audit_is_skipped_where_nothing_listens(lock: Path) -> None:
    result = audit(f"http://127.0.0.1:{free_port()}/pypi", lock)
    assert result.returncode == 0
    assert "vulnerability audit skipped" in result.stdout


def test_records_that_answer_let_the_audit_run() -> None:
    record = json.dumps({"info": {}, "vulnerabilities": []}).encode()
    with records_server(200, record) as url:
        assert unanswered(url, "alembic", "1.20.1", 5) is None


def test_a_lock_without_pins_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "requirements.lock"
    empty.write_text("# nothing pinned\n")
    result = audit("http://127.0.0.1:9/pypi", empty)
    assert result.returncode == 1
    assert "no pinned package" in result.stderr
