"""Batch tags in SQL, on SQLite and PostgreSQL: written with a submitted batch, added and taken
off, read with every batch, filtered on; and through the dashboard's API, its refusals too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audiobatch.db.listings import BatchFilter, batch_summaries, find_batches
from audiobatch.db.models import Batch, utcnow
from audiobatch.db.reports import batch_report, list_batches
from audiobatch.db.session import session_scope
from audiobatch.db.tags import add_tags, remove_tag
from audiobatch.errors import TagError
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.manifest.episodes import DEFAULT_PART_CHARS
from audiobatch.manifest.tags import with_tags
from audiobatch.scheduler.editing import ScheduleRequest, add_schedule
from audiobatch.scheduler.firing import fire_now
from audiobatch.submission import submit_manifests
from tests.dashboard_seed import HOST
from tests.dashboard_stack import SCRIPT, TOKEN, Stack, make_stack


def manifest(folder: Path, batch: str, tags: str = "") -> Manifest:
    path = folder / f"{batch}.yaml"
    path.write_text(
        f"batch: {batch}\n{tags}jobs:\n  - id: one\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: One.}}]\n"
    )
    [loaded] = load_manifests([path])
    return loaded


def tags_of_batch(url: str, batch_id: str) -> list[str]:
    with session_scope(url) as session:
        tags: list[str] = batch_report(session, session.get_one(Batch, batch_id))["tags"]
        return tags


def test_a_batch_carries_its_manifest_s_tags_and_is_found_by_them(
    database_url: str, tmp_path: Path
) -> None:
    tagged = with_tags(manifest(tmp_path, "season", "tags: [season-2, draft]\n"), ["urgent"])
    plain = manifest(tmp_path, "plain")
    first, second = submit_manifests(database_url, [tagged, plain], lambda _: None)
    assert tags_of_batch(database_url, first.id) == ["draft", "season-2", "urgent"]
    assert tags_of_batch(database_url, second.id) == []
    with session_scope(database_url) as session:
        found = find_batches(session, BatchFilter(tag="draft"), 1, 50)
        assert [b.id for b in found.items] == [first.id] and found.total == 1
        assert find_batches(session, BatchFilter(tag="dra"), 1, 50).total == 0  # whole tags
        assert [b.id for b in list_batches(session, tag="urgent")] == [first.id]
        listed = batch_summaries(session, list_batches(session))
        assert {s["name"]: s["tags"] for s in listed} == {
            "season": ["draft", "season-2", "urgent"],
            "plain": [],
        }


def test_submitting_an_active_batch_again_adds_the_new_tags_to_it(
    database_url: str, tmp_path: Path
) -> None:
    [batch] = submit_manifests(database_url, [manifest(tmp_path, "season")], lambda _: None)
    again = with_tags(manifest(tmp_path, "season"), ["rerun"])
    [same] = submit_manifests(database_url, [again], lambda _: None)
    assert same.existing and same.id == batch.id
    assert tags_of_batch(database_url, batch.id) == ["rerun"]


def test_a_schedule_s_batches_carry_its_manifest_s_tags(database_url: str, tmp_path: Path) -> None:
    path = Path(manifest(tmp_path, "news", "tags: [nightly]\n").source)
    request = ScheduleRequest("news", cron="@daily", manifest=str(path))
    add_schedule(database_url, request, utcnow(), part_chars=DEFAULT_PART_CHARS)
    fired = fire_now(database_url, lambda _: None, "news", utcnow(), part_chars=DEFAULT_PART_CHARS)
    assert fired.batch_id is not None
    assert tags_of_batch(database_url, fired.batch_id) == ["nightly"]


def test_tags_are_added_up_to_the_limit_and_taken_off(database_url: str, tmp_path: Path) -> None:
    [batch] = submit_manifests(database_url, [manifest(tmp_path, "season")], lambda _: None)
    with session_scope(database_url) as session:
        assert add_tags(session, batch.id, [f"t{n}" for n in range(9)] + ["t0"]) == [
            f"t{n}" for n in range(9)
        ]
        assert add_tags(session, batch.id, ["t9", "t9"])[-1] == "t9"
    with pytest.raises(TagError, match="at most 10 tags, not 11"), session_scope(database_url) as s:
        add_tags(s, batch.id, ["one-more"])
    with session_scope(database_url) as session:
        assert remove_tag(session, batch.id, "t3")
        assert not remove_tag(session, batch.id, "t3")
    assert tags_of_batch(database_url, batch.id) == [f"t{n}" for n in range(10) if n != 3]


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path)
    with made.client:
        yield made


def test_the_api_tags_a_batch_lists_it_by_tag_and_takes_the_tag_off(stack: Stack) -> None:
    done = stack.seeded.done
    added = stack.client.post(f"/api/batches/{done}/tags", data={"tag": "keep"}, headers=SCRIPT)
    assert added.status_code == 200, added.text
    assert added.json() == {
        "action": "tag", "batch_id": done, "jobs": 0, "message": "batch demo tagged keep: keep"
    }  # fmt: skip
    page = stack.client.get("/api/batches", params={"tag": "keep"}).json()
    assert [(b["id"], b["tags"]) for b in page["items"]] == [(done, ["keep"])]
    assert stack.client.get(f"/api/batches/{done}").json()["tags"] == ["keep"]
    assert stack.client.get("/api/batches", params={"tag": "nope"}).json()["total"] == 0
    bad = stack.client.post(f"/api/batches/{done}/tags", data={"tag": "Not ok"}, headers=SCRIPT)
    assert bad.status_code == 422 and "tag 'Not ok' must match" in bad.json()["detail"]
    removed = stack.client.post(f"/api/batches/{done}/tags/keep/remove", headers=SCRIPT)
    assert removed.json()["message"] == "tag keep taken off batch demo"
    again = stack.client.post(f"/api/batches/{done}/tags/keep/remove", headers=SCRIPT)
    assert again.status_code == 404 and "carries no tag 'keep'" in again.json()["detail"]
    assert stack.client.get(f"/api/batches/{done}").json()["tags"] == []


def test_tag_actions_need_the_operator(postgres_url: str, tmp_path: Path) -> None:
    made = make_stack(postgres_url, tmp_path, dashboard_token=TOKEN)
    client, done = made.client, made.seeded.done
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(f"/api/batches/{done}/tags", data={"tag": "a"}, headers=bearer).is_success
    page = client.get(f"/batches/{done}").text
    assert 'id="add-tag"' not in page and "untag" not in page and 'href="/?tag=a"' in page
    csrf = client.cookies["audiobatch_csrf"]
    for path, data in tag_actions(done):
        viewer = client.post(path, data={**data, "csrf_token": csrf})
        assert viewer.status_code == 401 and "operator token" in viewer.json()["detail"]
        scripted = client.post(path, data=data, headers=SCRIPT)
        assert scripted.status_code == 401
    assert tags_of_batch(postgres_url, done) == ["a"]


def test_tag_actions_without_proof_of_their_origin_are_refused(stack: Stack) -> None:
    done = stack.seeded.done
    stack.client.post(f"/api/batches/{done}/tags", data={"tag": "a"}, headers=SCRIPT)
    stack.client.get(f"/batches/{done}")
    for path, data in tag_actions(done):
        bare = stack.client.post(path, data=data)
        assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
        forged = stack.client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403
        elsewhere = stack.client.post(
            path, data=data, headers={**SCRIPT, "Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
    assert tags_of_batch(stack.url, done) == ["a"]


def tag_actions(batch_id: str) -> list[tuple[str, dict[str, str]]]:
    """Each tag action of the batch, with its form."""
    return [
        (f"/api/batches/{batch_id}/tags", {"tag": "b"}),
        (f"/api/batches/{batch_id}/tags/a/remove", {}),
    ]
