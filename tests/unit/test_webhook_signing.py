"""Standard Webhooks signatures, checked against an implementation written from the spec here,
and the webhook settings' refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from audiobatch.config import Settings
from audiobatch.webhooks.signing import secret_problem, signed_headers

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def expected_signature(secret: str, msg_id: str, timestamp: str, body: str) -> str:
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_the_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    body = '{"type":"batch.ended","data":{"batch_id":"b1"}}'
    headers = signed_headers(SECRET, "msg_1", 1_700_000_000, body)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == expected_signature(SECRET, "msg_1", "1700000000", body)


def test_a_changed_body_does_not_verify() -> None:
    headers = signed_headers(SECRET, "msg_1", 1_700_000_000, '{"a":1}')
    assert headers["webhook-signature"] != expected_signature(
        SECRET, "msg_1", "1700000000", '{"a":2}'
    )


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("k" * 40, "must start with whsec_"),
        ("whsec_not base64!", "must be base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes"),
    ],
)
def test_secrets_that_cannot_sign_are_refused(secret: str, why: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None and why in problem


def test_a_webhook_url_needs_a_secret_and_must_not_reach_metadata() -> None:
    with pytest.raises(ValueError, match="needs AUDIOBATCH_WEBHOOK_SECRET"):
        Settings(webhook_url="https://hooks.example.com/in")
    with pytest.raises(ValueError, match="link-local"):
        Settings(webhook_url="http://169.254.169.254/", webhook_secret=SECRET)
    settings = Settings(webhook_url="https://hooks.example.com/in", webhook_secret=SECRET)
    assert settings.webhook_url == "https://hooks.example.com/in"
