"""Webhooks from the command line: `run` of a manifest with `notify` tells its receiver and the
deployment's that the batch ended, signed; `status --json` lists the deliveries; a bad event is
invalid input (exit 2, with file:line)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment
from tests.dashboard_seed import HOST
from tests.webhook_receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"an-acceptance-test-secret").decode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([])
    yield made
    made.close()


def write_manifest(folder: Path, notify: str) -> Path:
    path = folder / "told.yaml"
    path.write_text(
        "batch: told\njobs:\n  - id: one\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: One.}}]\nnotify:\n{notify}"
    )
    return path


def test_run_delivers_the_batch_s_end_signed_and_status_lists_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    deployment = Receiver([])
    try:
        env = clean_environment(
            AUDIOBATCH_WEBHOOK_URL=deployment.url, AUDIOBATCH_WEBHOOK_SECRET=SECRET
        )
        manifest = write_manifest(tmp_path, f"  url: {receiver.url}\n  events: [batch.ended]\n")
        ran = audiobatch("run", str(manifest), "--json", cwd=tmp_path, env=env)
        assert ran.returncode == 0, ran.stderr
        [batch] = json.loads(ran.stdout)
        shown = audiobatch("status", batch["id"], "--json", cwd=tmp_path, env=env)
        deliveries = json.loads(shown.stdout)["deliveries"]
        table = audiobatch("status", batch["id"], cwd=tmp_path, env=env).stdout
    finally:
        deployment.close()
    assert sorted((d["event"], d["state"], d["attempts"]) for d in deliveries) == [
        ("batch.ended", "delivered", 1),
        ("batch.ended", "delivered", 1),
    ]
    assert "webhooks: 2 delivered" in table
    for sent in (receiver.received, deployment.received):
        [received] = sent
        headers = received.headers
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode()
        digest = hmac.new(key, signed + received.body, hashlib.sha256).digest()
        assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
        assert json.loads(received.body)["data"]["status"] == "succeeded"


def test_an_unknown_event_is_invalid_input_at_its_line(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, "  url: https://h.example/in\n  events: [batch.over]\n")
    checked = audiobatch("validate", str(manifest), cwd=tmp_path, env=clean_environment())
    assert checked.returncode == 2
    assert "told.yaml:8: notify.events[0]: unknown event" in checked.stdout + checked.stderr
    assert "unknown event 'batch.over'" in checked.stdout + checked.stderr
