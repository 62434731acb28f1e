"""Standard Webhooks signatures: ``webhook-signature`` is ``v1,`` and the base64 of
HMAC-SHA256, keyed with the secret's bytes, over ``{webhook-id}.{webhook-timestamp}.{body}``.
The secret is written ``whsec_`` followed by the key in base64."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is no webhook secret; None when it is one."""
    if not secret.startswith(SECRET_PREFIX):
        return f"must start with {SECRET_PREFIX} followed by base64"
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        return f"the part after {SECRET_PREFIX} must be base64"
    if len(key) < MIN_KEY_BYTES:
        return f"the key must be at least {MIN_KEY_BYTES} bytes, not {len(key)}"
    return None


def signed_headers(secret: str, message_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    """The headers that sign ``body`` as message ``message_id`` sent at ``timestamp_s``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp_s}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }
