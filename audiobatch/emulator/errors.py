"""Error answers in the API's shapes: current (type, code, status, message, request_id) and legacy."""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse

TYPES = {
    400: "validation_error",
    401: "authentication_error",
    404: "not_found",
    429: "rate_limit_error",
}


def new_request_id() -> str:
    return uuid.uuid4().hex[:20]


def api_error(
    status: int, code: str, message: str, *, legacy_status: str | None = None
) -> JSONResponse:
    request_id = new_request_id()
    return JSONResponse(
        status_code=status,
        content={
            "detail": {
                "type": TYPES.get(status, "internal_error"),
                "code": code,
                "status": legacy_status or code,
                "message": message,
                "request_id": request_id,
            }
        },
        headers={"x-trace-id": uuid.uuid4().hex},
    )


def legacy_error(status: int, code: str, message: str) -> JSONResponse:
    """The legacy shape, ``{"detail": {"status", "message"}}``, as real 401s are still seen."""
    return JSONResponse(
        status_code=status,
        content={"detail": {"status": code, "message": message}},
        headers={"x-trace-id": uuid.uuid4().hex},
    )
