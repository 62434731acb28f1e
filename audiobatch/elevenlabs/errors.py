"""Turning the API's error answers into audiobatch errors.

The API answers errors in four body shapes (legacy ``detail.status``; current ``detail.code``; a
pydantic-style 422 list; a bare string or an unwrapped object). The code is read from ``code``, then
``status``; the HTTP status decides when no code is known.
"""

from __future__ import annotations

import json
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


def error_from_response(response: httpx.Response, body: bytes) -> ApiError:
    """The audiobatch error for an HTTP error answer whose body has been read."""
    code, message = _code_and_message(body)
    request_id = response.headers.get("request-id") or _detail_field(body, "request_id")
    retry_after_s = retry_after(response.headers)
    status = response.status_code
    message = message or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "retry_after_s": retry_after_s,
    }
    if status == 429:
        if code in CONCURRENCY_CODES:
            return ConcurrencyLimitError(message, **kwargs)
        return ApiBusyError(message, **kwargs)
    if status >= 500 or status in (408, 409):
        return ApiBusyError(message, **kwargs)
    if status == 401:
        return AccountError(message, **kwargs)
    return FatalApiError(message, **kwargs)


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
