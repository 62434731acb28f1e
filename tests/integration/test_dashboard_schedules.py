"""Schedules added, paused, resumed and removed through the dashboard: the JSON API, the page's
form with its field errors, and the refusals of actions without the operator role or a CSRF
token, against real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audiobatch.db import schedules
from audiobatch.db.session import session_scope
from tests.dashboard_stack import SCRIPT, TOKEN, Stack, make_stack


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A dashboard that may read local manifests from the test's folder."""
    made = make_stack(postgres_url, tmp_path, source_roots=(tmp_path,))
    with made.client:
        yield made


@pytest.fixture
def guarded(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path, dashboard_token=TOKEN)
    with made.client:
        yield made


def news(folder: Path, **changes: str) -> dict[str, str]:
    """The form of a schedule "news" over the seeded manifest, with ``changes``."""
    return {
        "name": "news",
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "manifest": str(folder / "nightly.yaml"),
        "overlap": "allow",
        **changes,
    }


def schedule_named(stack: Stack, name: str) -> dict[str, Any] | None:
    views = stack.client.get("/api/schedules").json()
    return next((v for v in views if v["name"] == name), None)


def test_a_schedule_is_added_paused_resumed_and_removed_through_the_api(
    stack: Stack, tmp_path: Path
) -> None:
    added = stack.client.post("/api/schedules", data=news(tmp_path), headers=SCRIPT)
    assert added.status_code == 201, added.text
    assert added.json()["message"].startswith("schedule news added: 30 2 * * * (Europe/Berlin)")
    view = schedule_named(stack, "news")
    assert view is not None
    assert (view["enabled"], view["overlap"], view["catch_up"]) == (True, "allow", "latest")
    assert view["manifest"] == str(tmp_path / "nightly.yaml")

    paused = stack.client.post("/api/schedules/news/pause", headers=SCRIPT)
    assert paused.json() == {
        "action": "pause", "batch_id": None, "jobs": 0, "message": "schedule news paused"
    }  # fmt: skip
    assert schedule_named(stack, "news") == {**view, "enabled": False, "next_run": None}
    resumed = stack.client.post("/api/schedules/news/resume", headers=SCRIPT)
    assert resumed.json()["message"].startswith("schedule news resumed; next run ")
    assert schedule_named(stack, "news") == view

    again = stack.client.post("/api/schedules", data=news(tmp_path), headers=SCRIPT)
    assert again.status_code == 409 and "a schedule named 'news' exists" in again.text
    removed = stack.client.post("/api/schedules/news/remove", headers=SCRIPT)
    assert removed.json()["message"] == "schedule news removed"
    assert schedule_named(stack, "news") is None
    gone = stack.client.post("/api/schedules/news/pause", headers=SCRIPT)
    assert gone.status_code == 404 and "no schedule named 'news'" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cron": "99 2 * * *"}, "cron", "minute '99'"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "unknown time zone 'Europe/Atlantis'"),
        ({"timezone": "Europe"}, "timezone", "unknown time zone 'Europe'"),
        ({"manifest": "missing.yaml"}, "manifest", "missing.yaml': no such file"),
        ({"manifest": "s3://elsewhere/news.yaml"}, "manifest", "outside the buckets"),
        ({"name": "no spaces"}, "name", "schedule name 'no spaces' must match"),
    ],
)
def test_a_value_that_cannot_be_used_is_422_naming_its_field(
    stack: Stack, tmp_path: Path, changes: dict[str, str], field: str, message: str
) -> None:
    if "manifest" in changes and "://" not in changes["manifest"]:
        changes["manifest"] = str(tmp_path / changes["manifest"])
    answer = stack.client.post("/api/schedules", data=news(tmp_path, **changes), headers=SCRIPT)
    assert answer.status_code == 422
    assert answer.json()["field"] == field and message in answer.json()["detail"]
    assert schedule_named(stack, "news") is None


def test_a_local_manifest_outside_the_source_roots_is_refused_alike_whether_it_exists_or_not(
    postgres_url: str, tmp_path: Path
) -> None:
    unconfined = make_stack(postgres_url, tmp_path)  # AUDIOBATCH_SOURCE_ROOTS not set
    with unconfined.client:
        answers = [
            unconfined.client.post("/api/schedules", data=news(tmp_path, manifest=path), headers=SCRIPT)
            for path in (str(tmp_path / "nightly.yaml"), str(tmp_path / "absent.yaml"), "/etc/passwd")
        ]  # fmt: skip
        assert schedule_named(unconfined, "news") is None
    for answer in answers:
        assert answer.status_code == 422 and answer.json()["field"] == "manifest"
        assert "outside the folders this dashboard may read" in answer.json()["detail"]
    details = [answer.json()["detail"] for answer in answers]
    assert details[0].replace("nightly", "absent") == details[1]
    assert "root:" not in details[2]


def test_the_page_s_form_shows_a_refusal_beside_its_field_and_keeps_the_values(
    stack: Stack, tmp_path: Path
) -> None:
    stack.client.get("/schedules")
    csrf = stack.client.cookies["audiobatch_csrf"]
    form = {**news(tmp_path, cron="every night"), "csrf_token": csrf}
    answer = stack.client.post("/api/schedules", params={"next": "/schedules"}, data=form)
    assert answer.status_code == 422
    assert 'data-error="cron"' in answer.text and "has 2 fields" in answer.text
    assert 'value="every night"' in answer.text and 'value="Europe/Berlin"' in answer.text
    (tmp_path / "broken.yaml").write_text("batch: x\njobs: []\n")
    form["cron"], form["manifest"] = "@daily", str(tmp_path / "broken.yaml")
    invalid = stack.client.post("/api/schedules", params={"next": "/schedules"}, data=form)
    assert invalid.status_code == 422
    assert 'data-error="manifest"' in invalid.text and "needs at least one job" in invalid.text
    form["manifest"] = str(tmp_path / "nightly.yaml")
    added = stack.client.post(
        "/api/schedules", params={"next": "/schedules"}, data=form, follow_redirects=False
    )
    assert added.status_code == 303
    assert added.headers["location"].startswith("/schedules?notice=schedule+news+added")


def test_a_viewer_sees_no_schedule_buttons_and_is_refused_every_schedule_action(
    guarded: Stack, tmp_path: Path
) -> None:
    page = guarded.client.get("/schedules").text
    assert "Run now" not in page and "Pause" not in page and 'id="add-schedule"' not in page
    assert "needs the operator role" in page
    csrf = guarded.client.cookies["audiobatch_csrf"]
    for path in ["/api/schedules/nightly/pause", "/api/schedules/nightly/remove"]:
        refused = guarded.client.post(path, data={"csrf_token": csrf})
        assert refused.status_code == 401 and "operator token" in refused.json()["detail"]
    refused = guarded.client.post(
        "/api/schedules", data={**news(tmp_path), "csrf_token": csrf}, headers=SCRIPT
    )
    assert refused.status_code == 401
    assert schedule_named(guarded, "nightly") is not None
    assert schedule_named(guarded, "news") is None
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.client.post("/api/schedules/nightly/pause", headers=bearer).status_code == 200


def test_a_schedule_action_without_proof_of_its_origin_is_refused(
    stack: Stack, tmp_path: Path
) -> None:
    stack.client.get("/schedules")
    for path, data in [
        ("/api/schedules", news(tmp_path)),
        ("/api/schedules/nightly/pause", {}),
        ("/api/schedules/nightly/remove", {}),
    ]:
        bare = stack.client.post(path, data=data)
        assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
        forged = stack.client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403
        elsewhere = stack.client.post(
            path, data=data, headers={**SCRIPT, "Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
    with session_scope(stack.url) as session:
        assert [s.name for s in schedules.list_schedules(session)] == ["nightly"]
        assert schedules.find_schedule(session, "nightly").enabled
