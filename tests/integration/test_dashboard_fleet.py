"""The fleet in the dashboard: the workers page and API, the banner on every page while jobs wait
on queues no live worker serves, and the jobs live workers hold on the limiter page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from audiobatch.db.models import WorkerProcess
from audiobatch.db.session import session_scope
from tests.dashboard_seed import live_worker
from tests.dashboard_stack import Stack, make_stack
from tests.state import heartbeat

PAGES = ["/", "/schedules", "/limiter", "/workers"]


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path)
    with made.client:
        yield made


def test_the_workers_api_lists_every_process_live_first_with_its_state(stack: Stack) -> None:
    busy = stack.seeded.jobs[f"{stack.seeded.nightly}/busy"]
    with session_scope(stack.url) as session:
        heartbeat(session, "host-1-gone", seen_s_ago=600)
        heartbeat(session, "host-2-stopped", seen_s_ago=60, stopped=True)
        heartbeat(session, "host-3-live", seen_s_ago=1)
        session.execute(
            update(WorkerProcess)
            .where(WorkerProcess.id == "host-3-live")
            .values(jobs_in_hand=[busy])
        )
    fleet = stack.client.get("/api/workers").json()
    assert [(w["id"], w["state"]) for w in fleet["workers"]] == [
        ("host-3-live", "live"), ("host-2-stopped", "stopped"), ("host-1-gone", "gone"),
    ]  # fmt: skip
    assert fleet["workers"][0]["jobs_in_hand"] == [busy]
    assert fleet["unserved_queues"] == []  # the live one serves "dialogue", all nightly waits on

    page = stack.client.get("/workers").text
    assert 'data-state="gone"' in page and "10 min ago" in page and "host-3-live" in page


def test_every_page_warns_while_jobs_wait_on_a_queue_no_live_worker_serves(stack: Stack) -> None:
    # the seeded nightly batch has dialogue jobs queued and running
    assert stack.client.get("/api/workers").json()["unserved_queues"] == ["dialogue"]
    for path in PAGES:
        page = stack.client.get(path).text
        assert 'role="alert" data-unserved="dialogue"' in page, path
        assert '<a href="/workers">Workers</a>' in page, path
    with live_worker(stack.url):
        for path in PAGES:
            assert "data-unserved" not in stack.client.get(path).text, path


def test_the_limiter_shows_the_jobs_live_workers_hold_in_each_pool(stack: Stack) -> None:
    with session_scope(stack.url) as session:
        heartbeat(session, "host-live", seen_s_ago=1)
        heartbeat(session, "host-gone", seen_s_ago=600)
        session.execute(
            update(WorkerProcess).values(
                jobs_in_hand=[stack.seeded.jobs[f"{stack.seeded.nightly}/busy"]]
            )
        )
    limiter = stack.client.get("/api/limiter").json()
    assert {p["pool"]: p["jobs_in_hand"] for p in limiter["pools"]} == {"general": 1, "music": 0}
    page = stack.client.get("/limiter").text
    assert '<td data-field="jobs_in_hand">1</td>' in page
