"""Webhooks on PostgreSQL: events written with the change that causes them, delivered signed by
the sender through a receiver that fails, is slow and comes back, a sender killed mid-delivery,
and two senders at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from audiobatch.db import webhooks
from audiobatch.db.batches import end_batch_if_done, pause_for_account
from audiobatch.db.models import (
    Batch,
    BatchStatus,
    Job,
    JobStatus,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from audiobatch.db.session import session_scope
from audiobatch.manifest.notify import BATCH_ENDED, EVENTS, FAILURE_THRESHOLD, Notify
from audiobatch.webhooks.sender import SenderConfig, WebhookSender, build_client
from tests.dashboard_seed import HOST
from tests.dashboard_stack import SCRIPT, Stack, make_stack
from tests.races import at_once
from tests.state import add_batch, hold
from tests.webhook_receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"s3cret-key-for-webhooks!!").decode()


@pytest.fixture
def url(migrated_postgres_url: str) -> str:
    return migrated_postgres_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([])
    yield made
    made.close()


def sender_for(url: str, deployment_url: str | None = None, **config: object) -> WebhookSender:
    settings = SenderConfig(url, deployment_url, SECRET, **config)  # type: ignore[arg-type]
    return WebhookSender(settings, build_client(settings))


def drain(sender: WebhookSender) -> None:
    for _ in range(20):
        if not sender():
            return


def verified(received: object) -> dict[str, object]:
    """The body, once its Standard Webhooks signature checks out (written here from the spec)."""
    headers, body = received.headers, received.body  # type: ignore[attr-defined]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"].split(" ") == [f"v1,{expected}"]
    data: dict[str, object] = json.loads(body)
    return data


def batch_with_notify(url: str, batch_id: str, notify: Notify, jobs: dict[str, JobStatus]) -> None:
    with session_scope(url) as session:
        add_batch(session, batch_id, BatchStatus.RUNNING, jobs)
        session.get_one(Batch, batch_id).notify = notify.as_json()


def end(url: str, batch_id: str) -> BatchStatus | None:
    with session_scope(url) as session:
        return end_batch_if_done(session, batch_id, utcnow())


def test_a_batch_s_end_reaches_a_receiver_that_fails_then_is_slow_then_answers(
    url: str, receiver: Receiver
) -> None:
    receiver.plan = ["500", "slow"]
    jobs = {"a": JobStatus.SUCCEEDED, "b": JobStatus.FAILED}
    batch_with_notify(url, "b1", Notify(receiver.url), jobs)
    assert end(url, "b1") is BatchStatus.PARTIAL
    drain(sender_for(url, timeout_s=0.5, base_delay_s=0.0))

    assert [r.answer for r in receiver.received] == ["500", "slow", "ok"]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message, resent
    body = verified(receiver.received[-1])
    assert body["type"] == BATCH_ENDED
    data = body["data"]
    assert isinstance(data, dict) and data["batch_id"] == "b1" and data["status"] == "partial"
    assert data["counts"]["failed"] == 1 and data["counts"]["succeeded"] == 1
    with session_scope(url) as session:
        [shown] = webhooks.deliveries_of(session, "b1")
    assert shown["state"] == "delivered" and shown["attempts"] == 3
    assert shown["last_status"] == 204 and shown["url"].endswith("/hook")  # no token shown


def test_a_receiver_down_for_good_is_given_up_after_the_attempts_and_marked(url: str) -> None:
    batch_with_notify(url, "b1", Notify("http://127.0.0.1:9/down"), {"a": JobStatus.SUCCEEDED})
    end(url, "b1")
    drain(sender_for(url, max_attempts=3, base_delay_s=0.0))
    with session_scope(url) as session:
        [shown] = webhooks.deliveries_of(session, "b1")
    assert shown["state"] == "gave_up" and shown["attempts"] == 3
    assert "gave up after 3 attempts" in shown["last_error"]


def test_an_end_rolled_back_leaves_no_event(url: str) -> None:
    batch_with_notify(url, "b1", Notify("http://127.0.0.1:9/x"), {"a": JobStatus.SUCCEEDED})
    with pytest.raises(RuntimeError), session_scope(url) as session:
        assert end_batch_if_done(session, "b1", utcnow()) is BatchStatus.SUCCEEDED
        raise RuntimeError("the process died before COMMIT")
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assert session.get_one(Batch, "b1").status is BatchStatus.RUNNING


def test_a_pause_goes_to_the_deployment_and_only_to_batches_that_asked_for_it(
    url: str, receiver: Receiver
) -> None:
    other = Receiver([])
    try:
        batch_with_notify(url, "b1", Notify(other.url, (BATCH_ENDED,)), {"a": JobStatus.QUEUED})
        with session_scope(url) as session:
            [job_id] = add_batch(
                session, "b2", BatchStatus.RUNNING, {"x": JobStatus.QUEUED}
            ).values()
            hold(session, job_id, "w1", lease_s=60, claimed_s_ago=1)
        with session_scope(url) as session:
            assert (
                pause_for_account(
                    session, job_id, "w1", "default", "quota exceeded", "quota_exceeded"
                )
                == 2
            )
        drain(sender_for(url, deployment_url=receiver.url))
    finally:
        other.close()
    assert other.received == []  # b1 asked for batch.ended only
    paused = sorted(verified(r)["data"]["batch_id"] for r in receiver.received)  # type: ignore[index]
    assert paused == ["b1", "b2"]
    assert {verified(r)["type"] for r in receiver.received} == {"batch.paused"}


def test_the_failure_threshold_is_told_once_even_by_two_ticks_at_once(url: str) -> None:
    jobs = {"a": JobStatus.FAILED, "b": JobStatus.FAILED, "c": JobStatus.QUEUED}
    batch_with_notify(url, "b1", Notify("http://127.0.0.1:9/x", EVENTS, 2), jobs)
    batch_with_notify(url, "b2", Notify("http://127.0.0.1:9/x", EVENTS, 3), jobs)
    both_read = threading.Barrier(2)

    def tick() -> list[bool]:
        with session_scope(url) as session:
            watched = webhooks.batches_watching_failures(session)
            both_read.wait()
            return [webhooks.note_failure_threshold(session, b, utcnow()) for b in watched]

    recorded = [noted for ticked in at_once([tick, tick]) for noted in ticked]
    assert sorted(recorded) == [False, False, False, True]
    with session_scope(url) as session:
        events = session.execute(select(WebhookEvent.batch_id, WebhookEvent.event)).all()
    assert events == [("b1", FAILURE_THRESHOLD)]


def test_two_senders_released_together_deliver_each_event_once(
    url: str, receiver: Receiver
) -> None:
    for number in range(20):
        batch_with_notify(url, f"b{number}", Notify(receiver.url), {"a": JobStatus.SUCCEEDED})
        end(url, f"b{number}")
    at_once([partial(drain, sender_for(url)), partial(drain, sender_for(url))])
    sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == 20 and set(sent.values()) == {1}
    with session_scope(url) as session:
        delivered = select(func.count()).where(WebhookDelivery.delivered_at.is_not(None))
        assert session.scalar(delivered) == 20


SENDER_SCRIPT = """
import sys
from audiobatch.webhooks.sender import SenderConfig, WebhookSender, build_client
config = SenderConfig(sys.argv[1], None, sys.argv[2], timeout_s=30.0)
WebhookSender(config, build_client(config))()
"""


def test_a_sender_killed_mid_delivery_leaves_it_to_the_next_once_its_lease_runs_out(
    url: str, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.plan = ["hang"]
    batch_with_notify(url, "b1", Notify(receiver.url), {"a": JobStatus.SUCCEEDED})
    end(url, "b1")
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    process = subprocess.Popen([sys.executable, "-c", SENDER_SCRIPT, url, SECRET], env=env)
    try:
        assert receiver.hanging.wait(60), "the sender never reached the receiver"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with session_scope(url) as session:
        [held] = session.scalars(select(WebhookDelivery))
        assert held.attempts == 1 and held.delivered_at is None and held.leased_until is not None
        lease_ends = held.leased_until

    restarted = sender_for(url)
    drain(restarted)  # the lease still holds: nothing is sent twice at once
    assert len(receiver.received) == 1
    restarted.clock = lambda: lease_ends + timedelta(seconds=1)
    drain(restarted)
    assert [r.answer for r in receiver.received] == ["hang", "ok"]
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    with session_scope(url) as session:
        [shown] = webhooks.deliveries_of(session, "b1")
    assert shown["state"] == "delivered" and shown["attempts"] == 2


def uploaded(stack: Stack, notify: str) -> httpx.Response:
    manifest = (
        "batch: told\njobs:\n"
        f"  - {{id: talk, kind: dialogue, inputs: [{{voice: {HOST}, text: Hi}}]}}\n"
        f"notify:\n{notify}"
    )
    files = {"manifest": ("told.yaml", manifest.encode())}
    return stack.client.post("/api/batches", headers=SCRIPT, files=files)


def test_the_api_refuses_an_unknown_event_and_shows_deliveries_and_their_answers(
    url: str, receiver: Receiver, tmp_path: Path
) -> None:
    stack = make_stack(url, tmp_path)
    with stack.client:
        bad = uploaded(stack, "  url: https://h.example/in\n  events: [batch.done]\n")
        assert bad.status_code == 422
        [problem] = bad.json()["problems"]
        assert problem.startswith("told.yaml:6: notify.events[0]: unknown event 'batch.done'")
        metadata = uploaded(stack, "  url: http://169.254.169.254/latest/\n")
        assert metadata.status_code == 422 and "link-local" in metadata.json()["problems"][0]

        answer = uploaded(stack, f"  url: {receiver.url}\n  events: [batch.ended]\n")
        assert answer.status_code == 201, answer.text
        batch_id = answer.json()["batch_id"]
        with session_scope(url) as session:
            session.execute(
                update(Job).where(Job.batch_id == batch_id).values(status=JobStatus.SUCCEEDED)
            )
        end(url, batch_id)
        receiver.plan = ["500"]
        sender = sender_for(url, base_delay_s=60.0)
        sender()
        [waiting] = stack.client.get(f"/api/batches/{batch_id}").json()["deliveries"]
        assert waiting["state"] == "retrying" and waiting["last_status"] == 500
        assert waiting["last_error"] == "answered HTTP 500" and waiting["next_attempt_at"]
        sender.clock = lambda: utcnow() + timedelta(seconds=61)
        sender()
        [done] = stack.client.get(f"/api/batches/{batch_id}").json()["deliveries"]
        assert (done["event"], done["state"], done["attempts"]) == ("batch.ended", "delivered", 2)
        assert "t0k" not in done["url"]
        page = stack.client.get(f"/batches/{batch_id}").text
        assert f'data-delivery="{done["id"]}"' in page and "HTTP 204" in page
