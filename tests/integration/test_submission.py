"""Submitting on real databases and a real Redis broker: every job written, each queued one announced."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select

from audiobatch.broker import PUBLISH_PIPELINE, RENDER_TASK, create_celery
from audiobatch.cli.context import broker_publisher
from audiobatch.config import Settings
from audiobatch.db.models import Job, JobDependency, JobStatus
from audiobatch.db.session import session_scope
from audiobatch.manifest import load_manifests
from audiobatch.submission import submit_manifests
from tests.races import at_once

HOST = "JBFqnCBsd6RMkjVDRZzb"
DIALOGUES = PUBLISH_PIPELINE * 2 + 500  # more than one pipelined round trip, and a partial one


def messages(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """The messages waiting in a kombu Redis queue, oldest first, with their bodies decoded."""
    found = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        message["body"] = json.loads(base64.b64decode(message["body"]))
        found.append(message)
    return found


def test_every_job_is_written_and_every_queued_one_announced_once(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "many.jsonl"
    lines: list[dict[str, Any]] = [
        {"id": f"j{n}", "kind": "dialogue", "inputs": [{"voice": HOST, "text": f"Line {n}."}]}
        for n in range(DIALOGUES)
    ]
    lines.append({"id": "redub", "kind": "voice_change", "voice": HOST, "source": {"from": "j7"}})
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))

    publish = broker_publisher(Settings(broker_url=redis_url))
    [batch] = submit_manifests(database_url, load_manifests([manifest]), publish)

    assert batch.jobs == DIALOGUES + 1
    with session_scope(database_url) as session:
        jobs = {job.key: job for job in session.scalars(select(Job))}
        edges = session.execute(select(JobDependency.job_id, JobDependency.parent_id)).all()
    assert edges == [(jobs["redub"].id, jobs["j7"].id)]
    assert jobs["redub"].status is JobStatus.PENDING and jobs["redub"].published_at is None
    queued = [job for job in jobs.values() if job.status is JobStatus.QUEUED]
    assert len(queued) == DIALOGUES and all(job.published_at is not None for job in queued)
    client = redis.Redis.from_url(redis_url)
    announced = [message["body"][0] for message in messages(client, "dialogue")]
    assert sorted(announced) == sorted([job.id] for job in queued)
    assert client.llen("voice") == 0


def test_a_wakeup_is_the_message_send_task_makes(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    create_celery(Settings(broker_url=redis_url)).send_task(RENDER_TASK, args=[42], queue="music")
    broker_publisher(Settings(broker_url=redis_url))([(42, "music")])

    def comparable(message: dict[str, Any]) -> dict[str, Any]:
        headers, properties = message["headers"], message["properties"]
        task_id = headers["id"]
        assert headers["root_id"] == properties["correlation_id"] == task_id
        for unique in ("id", "root_id", "origin"):
            headers.pop(unique)
        for unique in ("correlation_id", "delivery_tag", "reply_to"):
            properties.pop(unique)  # reply_to: where results would go; no result is kept
        return message

    sent_by_celery, ours = messages(client, "music")
    assert comparable(ours) == comparable(sent_by_celery)


def test_an_active_manifest_submitted_again_returns_its_batch_unless_forced(
    database_url: str, tmp_path: Path
) -> None:
    from audiobatch.db.models import Batch, BatchStatus

    path = tmp_path / "show.jsonl"
    line = {"id": "a", "kind": "dialogue", "inputs": [{"voice": HOST, "text": "Hello."}]}
    path.write_text(json.dumps(line) + "\n")

    def submit(**flags: bool) -> tuple[str, bool]:
        [batch] = submit_manifests(database_url, load_manifests([path]), lambda _: None, **flags)
        return batch.id, batch.existing

    first, existing = submit()
    assert not existing
    assert submit() == (first, True)
    forced, existing = submit(force=True)
    assert forced != first and not existing
    path.write_text(json.dumps(line | {"inputs": [{"voice": HOST, "text": "Hi."}]}) + "\n")
    changed, existing = submit()
    assert changed not in (first, forced) and not existing
    with session_scope(database_url) as session:
        for batch in session.scalars(select(Batch)):
            batch.status = BatchStatus.SUCCEEDED  # every batch has ended
    assert not submit()[1]  # an ended batch's manifest is simply submitted again


def test_identical_manifests_submitted_at_once_make_one_batch(
    database_url: str, tmp_path: Path
) -> None:
    from audiobatch.db.models import Batch

    path = tmp_path / "show.jsonl"
    lines = [
        {"id": f"j{n}", "kind": "dialogue", "inputs": [{"voice": HOST, "text": f"Line {n}."}]}
        for n in range(200)  # a transaction long enough for the submissions to overlap
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    manifests = load_manifests([path])

    def submit() -> str:
        [batch] = submit_manifests(database_url, manifests, lambda _: None)
        return batch.id

    ids = at_once([submit] * 4)
    with session_scope(database_url) as session:
        batches = session.scalars(select(Batch.id)).all()
    assert len(set(ids)) == 1
    assert batches == [ids[0]]
