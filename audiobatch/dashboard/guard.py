"""What the dashboard checks of every request before a route reads a byte of its body:

1. Its ``Host`` names a host the dashboard answers for (``AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS``:
   by default the loopback names and the address it listens on), else 400. A page on another
   site whose DNS name was rebound to the dashboard's address sends that site's name: refused.
2. Who sent it (:class:`~audiobatch.dashboard.auth.Caller`): a valid Bearer token, the cookie of
   a login session, or nobody. A wrong Bearer token is 401 and counted against the client's
   address; an address with too many is 429 until it has waited.
3. A write action (every POST under ``/api/``) from a viewer is 401.
4. Its body is capped: ``Content-Length`` above the route's limit is 413 at once, and a body sent
   in chunks is counted as the route reads it and refused (413) once it passes the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiobatch.dashboard.auth import (
    ANONYMOUS,
    OPERATOR_NEEDED,
    SESSION_COOKIE,
    Caller,
    Role,
    bearer_token,
    token_digest,
    token_matches,
)
from audiobatch.dashboard.state import DashboardState
from audiobatch.db.logins import login_is_valid
from audiobatch.db.models import utcnow
from audiobatch.db.session import session_scope
from audiobatch.errors import (
    AccessError,
    OperatorRequiredError,
    TooManyAttemptsError,
    UnknownHostError,
)

UPLOAD_ROUTE = ("POST", "/api/batches")
ANY_HOST = "*"

Refusal = Callable[[Request, Exception], Awaitable[Response]]


@dataclass(frozen=True)
class BodyLimit:
    bytes: int
    setting: str  # the variable that raises it

    def refusal(self) -> HTTPException:
        return HTTPException(
            413, f"the request body is larger than {self.bytes} bytes (see {self.setting})"
        )


class RequestGuard:
    """ASGI middleware: the checks above, then the app with the caller in ``request.state``;
    a refusal is answered by ``refuse`` (the app's error answer) without calling the app."""

    def __init__(self, app: ASGIApp, state: DashboardState, refuse: Refusal) -> None:
        self.app = app
        self.state = state
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        limit = self._body_limit(scope)
        try:
            check_host(request.headers.get("host", ""), self.state.settings.dashboard_allowed_hosts)
            caller = await run_in_threadpool(identify, request, self.state)
            if caller.role is Role.VIEWER and _is_write(scope):
                raise OperatorRequiredError(OPERATOR_NEEDED)
            if _content_length(request) > limit.bytes:
                raise limit.refusal()
        except (AccessError, HTTPException) as exc:
            response = await self.refuse(request, exc)
            await response(scope, receive, send)
            return
        request.state.caller = caller
        await self.app(scope, _capped(receive, limit), send)

    def _body_limit(self, scope: Scope) -> BodyLimit:
        settings = self.state.settings
        if (scope["method"], scope["path"]) == UPLOAD_ROUTE:
            return BodyLimit(
                settings.dashboard_max_upload_bytes, "AUDIOBATCH_DASHBOARD_MAX_UPLOAD_BYTES"
            )
        return BodyLimit(settings.dashboard_max_body_bytes, "AUDIOBATCH_DASHBOARD_MAX_BODY_BYTES")


def check_host(header: str, allowed: list[str]) -> None:
    """Refuse a ``Host`` header (name and port) whose name is not among ``allowed``."""
    if ANY_HOST in allowed:
        return
    lowered = header.lower()  # an IPv6 address keeps its brackets, the port comes after them
    bracketed = lowered.startswith("[")
    name = lowered.partition("]")[0] + "]" if bracketed else lowered.partition(":")[0]
    if name.rstrip(".") not in allowed:
        raise UnknownHostError(
            f"this dashboard does not answer for host {header!r}: open it by an allowed name, "
            "or add the name to AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS"
        )


def identify(request: Request, state: DashboardState) -> Caller:
    """Who sent ``request``, from its headers alone (see :mod:`audiobatch.dashboard.auth`)."""
    token = state.settings.dashboard_token
    if token is None:
        return Caller(Role.OPERATOR)
    given = bearer_token(request.headers)
    if given is not None:
        client = client_address(request)
        wait_s = state.throttle.retry_after_s(client)
        if wait_s is not None:
            raise TooManyAttemptsError(wait_s)
        if not token_matches(given, token):
            state.throttle.failed(client)
            raise OperatorRequiredError("the token in the Authorization header is wrong")
        return Caller(Role.OPERATOR, bearer=True)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with session_scope(state.database_url) as session:
            if login_is_valid(session, cookie, token_digest(token), utcnow()):
                return Caller(Role.OPERATOR)
    return ANONYMOUS


def client_address(request: Request) -> str:
    """The client's address (the real one behind a trusted proxy)."""
    return request.client.host if request.client else "unknown"


def _is_write(scope: Scope) -> bool:
    return scope["method"] == "POST" and str(scope["path"]).startswith("/api/")


def _content_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0  # uvicorn refuses a malformed length itself; the stream is still counted


def _capped(receive: Receive, limit: BodyLimit) -> Receive:
    """``receive``, refusing the request once its body passes ``limit``."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit.bytes:
                raise limit.refusal()
        return message

    return receive_capped
