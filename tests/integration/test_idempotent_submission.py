"""Submissions over HTTP with an ``Idempotency-Key``: sent again (an answer lost, a client
restarted), or by many clients at once, the key makes one batch; with another request, it is
refused. Against a dashboard served over HTTP on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from audiobatch.db.models import Batch, SubmissionKey
from audiobatch.db.session import session_scope
from tests.dashboard_stack import SCRIPT, dashboard_settings, served
from tests.races import at_once

HOST = "JBFqnCBsd6RMkjVDRZzb"
CALLERS = 8


def manifest(name: str) -> bytes:
    return (
        f"batch: {name}\njobs:\n  - id: one\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: One.}}]\n"
    ).encode()


@pytest.fixture
def base(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    from audiobatch.db.migrate import upgrade

    upgrade(postgres_url)
    with served(dashboard_settings(postgres_url, tmp_path)) as port:
        yield f"http://127.0.0.1:{port}"


def submit(base: str, body: bytes, key: str | None, force: bool = False) -> httpx.Response:
    headers = SCRIPT | ({"Idempotency-Key": key} if key else {})
    return httpx.post(
        f"{base}/api/batches",
        headers=headers,
        files={"manifest": ("m.yaml", body)},
        data={"force": str(force).lower()},
        timeout=30,
    )


def batches(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Batch)) or 0


def test_the_same_key_again_answers_the_first_batch_even_after_it_ended(
    base: str, postgres_url: str
) -> None:
    first = submit(base, manifest("news"), "key-1")
    assert first.status_code == 201, first.text
    batch_id = first.json()["batch_id"]
    cancelled = httpx.post(f"{base}/api/batches/{batch_id}/cancel", headers=SCRIPT)
    assert cancelled.status_code == 200, cancelled.text
    again = submit(base, manifest("news"), "key-1")
    assert again.status_code == 200, again.text
    assert again.json()["batch_id"] == batch_id
    assert "was submitted earlier" in again.json()["message"]
    assert batches(postgres_url) == 1
    results = httpx.get(f"{base}/api/batches/{batch_id}/results")
    assert results.headers["content-type"] == "application/json"
    assert results.json()["id"] == batch_id and results.json()["status"] == "cancelled"
    assert [job["id"] for job in results.json()["jobs"]] == ["one"]
    # without the key, an ended batch's manifest makes a new batch
    assert submit(base, manifest("news"), None).json()["batch_id"] != batch_id
    assert batches(postgres_url) == 2


def test_a_key_sent_with_another_request_is_refused_and_writes_nothing(
    base: str, postgres_url: str
) -> None:
    batch_id = submit(base, manifest("news"), "key-2").json()["batch_id"]
    for body, force in ((manifest("sports"), False), (manifest("news"), True)):
        refused = submit(base, body, "key-2", force=force)
        assert refused.status_code == 422, refused.text
        assert "Idempotency-Key 'key-2' was sent with another submission" in refused.text
        assert batch_id in refused.json()["detail"]
    assert batches(postgres_url) == 1


def test_a_key_longer_than_kept_is_refused(base: str, postgres_url: str) -> None:
    refused = submit(base, manifest("news"), "k" * 256)
    assert refused.status_code == 422, refused.text
    assert "Idempotency-Key" in refused.text
    assert batches(postgres_url) == 0


@pytest.mark.parametrize("round_", range(3))
def test_clients_racing_with_one_key_make_one_batch(
    base: str, postgres_url: str, round_: int
) -> None:
    """``force``: nothing but the key keeps the callers from making a batch each."""
    answers = at_once(
        [lambda: submit(base, manifest("race"), f"race-{round_}", force=True)] * CALLERS
    )
    assert sorted(answer.status_code for answer in answers) == [200] * (CALLERS - 1) + [201]
    assert len({answer.json()["batch_id"] for answer in answers}) == 1
    assert batches(postgres_url) == 1
    with session_scope(postgres_url) as session:
        assert session.scalar(select(func.count()).select_from(SubmissionKey)) == 1


def json_manifest(name: str) -> dict[str, object]:
    return {"batch": name, "priority": "bulk",
            "jobs": [{"id": "one", "kind": "dialogue", "inputs": [{"voice": HOST, "text": "One."}]}]}  # fmt: skip


def test_a_json_manifest_sent_as_the_body_is_a_batch_once_per_key(
    base: str, postgres_url: str
) -> None:
    headers = SCRIPT | {"Idempotency-Key": "json-1"}
    url = f"{base}/api/batches?priority=urgent"
    first = httpx.post(url, headers=headers, json=json_manifest("from-code"), timeout=30)
    assert first.status_code == 201, first.text
    again = httpx.post(url, headers=headers, json=json_manifest("from-code"), timeout=30)
    assert (again.status_code, again.json()["batch_id"]) == (200, first.json()["batch_id"])
    with session_scope(postgres_url) as session:
        assert session.get_one(Batch, first.json()["batch_id"]).priority == 90  # the query's
    problems = httpx.post(
        f"{base}/api/batches", headers=SCRIPT, json={"batch": "x", "jobs": []}, timeout=30
    )
    assert problems.status_code == 422 and "jobs" in problems.text
    bad = [("?priority=soon", "unknown priority 'soon'"), ("?fresh=perhaps", "fresh")]
    for query, said in bad:
        refused = httpx.post(
            f"{base}/api/batches{query}", headers=SCRIPT, json=json_manifest("x"), timeout=30
        )
        assert refused.status_code == 422 and said in refused.text, refused.text
    neither = httpx.post(f"{base}/api/batches", headers=SCRIPT, content=b"batch: x", timeout=30)
    assert neither.status_code == 422 and "multipart field `manifest`" in neither.text
    assert batches(postgres_url) == 1
    schema = httpx.get(f"{base}/openapi.json").json()
    assert "application/json" in schema["paths"]["/api/batches"]["post"]["requestBody"]["content"]
