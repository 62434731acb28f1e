"""Turning the API's error answers into audiobatch errors.

The API answers errors in four body shapes (legacy ``detail.status``; current ``detail.code``; a
pydantic-style 422 list; a bare string or an unwrapped object). The code is read from ``code``, then
``status``; the HTTP status decides when no code is known.

An error body can also come with a 200 (a proxy's error page, a gateway that rewrites statuses):
then the status the error stands for is read from the body itself (``detail.type``, else the
code), and a body that names no error (an HTML page, plain text) stands for a gateway error, 502.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from audiobatch.errors import (
    AccountError,
    ApiBusyError,
    ApiError,
    ConcurrencyLimitError,
    FatalApiError,
)

CONCURRENCY_CODES = frozenset({"too_many_concurrent_requests", "concurrent_limit_exceeded"})
BUSY_CODES = frozenset({"system_busy", "rate_limit_exceeded"})
ACCOUNT_CODES = frozenset(
    {
        "invalid_api_key",
        "missing_api_key",
        "unauthorized",
        "quota_exceeded",
        "detected_unusual_activity",
        "missing_permissions",
    }
)
SERVER_CODES = frozenset(
    {"internal_error", "internal_server_error", "service_unavailable", "maintenance"}
)
TYPE_STATUS = {  # the HTTP status of each error ``type`` (the API's errors page)
    "validation_error": 400,
    "invalid_request": 400,
    "authentication_error": 401,
    "payment_required": 402,
    "authorization_error": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limit_error": 429,
    "internal_error": 500,
    "service_unavailable": 503,
}
HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
UNNAMED_ERROR_STATUS = 502  # an error body that names no error: a gateway's page


def error_from_response(response: httpx.Response, body: bytes) -> ApiError:
    """The audiobatch error for an error answer whose body has been read: an HTTP error status,
    or a 2xx whose body turned out to be an error (classified by what the body says)."""
    code, message = _code_and_message(body)
    request_id = response.headers.get("request-id") or _detail_field(body, "request_id")
    retry_after_s = retry_after(response.headers)
    status = response.status_code
    message = message or f"HTTP {status}"
    if status < 400:
        message = f"{message} (an error body in a {status} answer)"
        status_meant = _status_of_body(body, code)
    else:
        status_meant = status
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "retry_after_s": retry_after_s,
    }
    if status_meant == 429:
        if code in CONCURRENCY_CODES:
            return ConcurrencyLimitError(message, **kwargs)
        return ApiBusyError(message, **kwargs)
    if status_meant >= 500 or status_meant in (408, 409):
        return ApiBusyError(message, **kwargs)
    if status_meant == 401:
        return AccountError(message, **kwargs)
    return FatalApiError(message, **kwargs)


def _status_of_body(body: bytes, code: str | None) -> int:
    """The HTTP status an error body stands for, read from the body alone."""
    kind = _detail_field(body, "type")
    if kind in TYPE_STATUS:
        return TYPE_STATUS[kind]
    if code in CONCURRENCY_CODES or code in BUSY_CODES:
        return 429
    if code in ACCOUNT_CODES:
        return 401
    if code in SERVER_CODES:
        return 500
    if code is not None:  # the API named what is wrong with the request
        return 400
    return UNNAMED_ERROR_STATUS


def retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or ``retry-after-ms``; None when absent."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _detail_field(body: bytes, field: str) -> str | None:
    data = _parse(body)
    detail = data.get("detail") if isinstance(data, dict) else None
    value = detail.get(field) if isinstance(detail, dict) else None
    return value if isinstance(value, str) else None


def _code_and_message(body: bytes) -> tuple[str | None, str]:
    data = _parse(body)
    if not isinstance(data, dict):
        text = body.decode("utf-8", "replace").strip()
        title = HTML_TITLE.search(text)
        if title:
            return None, f"an HTML page: {' '.join(title.group(1).split())[:200]}"
        return None, text[:500]
    detail = data.get("detail", data)
    if isinstance(detail, str):
        return None, detail
    if isinstance(detail, list):
        return "validation_error", "; ".join(_describe_validation(item) for item in detail)
    if isinstance(detail, dict):
        code = detail.get("code") or detail.get("status")
        message = detail.get("message") or detail.get("msg") or ""
        return (str(code) if code else None), str(message)
    return None, str(detail)


def _describe_validation(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", []))
    return f"{location}: {item.get('msg', 'invalid')}" if location else str(item.get("msg"))
