"""Security headers on every answer of the dashboard.

The pages run only the dashboard's own scripts and styles (no inline script, style or event
handler; the API docs' Swagger UI is served from the same origin), are never framed, and their
URLs (which name batches) are not sent to other sites. Media may come from elsewhere: an output
on S3 plays from a presigned URL on the store's host.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' https: http:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def add_security_headers(scope: Scope, headers: MutableHeaders) -> None:
    """Every one of :data:`SECURITY_HEADERS` a route did not set itself (an
    :class:`~audiobatch.asgi.EditResponseHeaders` edit)."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
