"""The dashboard's FastAPI app: the JSON API (``/api``, documented at ``/docs``), the pages, the
write actions, output downloads and ``/metrics``, over the SQL state.

Every request passes :mod:`~audiobatch.dashboard.guard` (host, caller, body size) before a route
reads its body, and every answer carries :mod:`~audiobatch.dashboard.headers`' security headers.
Errors from audiobatch's tree become answers with a message: JSON under ``/api``, a page
elsewhere. An unknown batch, job or schedule is 404, a bad filter or an id out of range 422, an
unknown host 400, a refused action 401 or 403, too many wrong tokens 429; a schedule's value that
cannot be used 422 with its ``field``, a schedule name already taken 409.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from audiobatch.asgi import EditResponseHeaders
from audiobatch.config import Settings
from audiobatch.dashboard import actions, api, docs, downloads, metrics, pages
from audiobatch.dashboard.auth import current_role, set_fresh_csrf_cookie
from audiobatch.dashboard.guard import RequestGuard
from audiobatch.dashboard.headers import add_security_headers
from audiobatch.dashboard.state import DashboardState
from audiobatch.errors import (
    AccountNameError,
    AudiobatchError,
    BrokerUnavailableError,
    CrossSiteRequestError,
    DatabaseUnavailableError,
    IdempotencyKeyReusedError,
    LimiterUnavailableError,
    ManifestError,
    NotFoundError,
    OperatorRequiredError,
    PriorityError,
    RetakeError,
    ScheduleError,
    ScheduleFieldError,
    StorageUnavailableError,
    TagError,
    TooManyAttemptsError,
    UnknownHostError,
)

STATUS_OF: list[tuple[type[AudiobatchError], int]] = [
    (NotFoundError, 404),
    (OperatorRequiredError, 401),
    (CrossSiteRequestError, 403),
    (UnknownHostError, 400),
    (TooManyAttemptsError, 429),
    (ManifestError, 422),
    (ScheduleFieldError, 422),
    (TagError, 422),
    (PriorityError, 422),
    (AccountNameError, 422),
    (RetakeError, 422),
    (IdempotencyKeyReusedError, 422),
    (ScheduleError, 409),
    (DatabaseUnavailableError, 503),
    (LimiterUnavailableError, 503),
    (BrokerUnavailableError, 503),
    (StorageUnavailableError, 503),
]


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="audiobatch dashboard",
        summary="Batches and jobs rendered through the ElevenLabs API, and the actions on them.",
        description=(
            "Reading is open. Write actions (POST) need the operator role when "
            "`AUDIOBATCH_DASHBOARD_TOKEN` is set (`Authorization: Bearer TOKEN`), and scripts "
            "send an `X-Requested-By` header (cross-site protection)."
        ),
        docs_url=None,  # served from local assets by dashboard.docs
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    state = app.state.dashboard = DashboardState(settings)
    docs.mount_assets(app)
    static = files("audiobatch.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    routers = (api.router, actions.router, docs.router, downloads.router, metrics.router)
    for router in (*routers, pages.router):
        app.include_router(router)
    app.add_exception_handler(AudiobatchError, _audiobatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # the last added runs first: headers, forwarded headers, the guard, the CSRF cookie, routes
    app.add_middleware(EditResponseHeaders, edit=set_fresh_csrf_cookie)
    app.add_middleware(RequestGuard, state=state, refuse=_refusal)
    if settings.dashboard_trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.dashboard_trusted_proxies)
    app.add_middleware(EditResponseHeaders, edit=add_security_headers)
    return app


async def _refusal(request: Request, exc: Exception) -> Response:
    """The guard's answer to a request it refused before the app saw it."""
    if isinstance(exc, HTTPException):
        return await _http_error(request, exc)
    return await _audiobatch_error(request, exc)


async def _audiobatch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AudiobatchError)
    status = next((code for cls, code in STATUS_OF if isinstance(exc, cls)), 500)
    if isinstance(exc, ManifestError) and _wants_page(request):
        return pages.render(
            request, current_role(request), "problems.html", status, problems=exc.problems
        )
    extra: dict[str, Any] = {}
    if isinstance(exc, ManifestError):
        extra["problems"] = [str(p) for p in exc.problems]
    if isinstance(exc, ScheduleFieldError):
        extra["field"] = exc.field
    response = _error(request, status, str(exc), **extra)
    if isinstance(exc, TooManyAttemptsError):
        response.headers["retry-after"] = str(exc.retry_after_s)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'path', 'body'))}: {e['msg']}"
        for e in exc.errors()
    ]
    return _error(request, 422, "; ".join(problems), problems=problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(request, exc.status_code, str(exc.detail))


def _wants_page(request: Request) -> bool:
    """A page, or a page's form sent to the API (it says where to go back to: ``?next=``)."""
    from_form = "next" in request.query_params
    return from_form or not request.url.path.startswith(("/api/", "/metrics"))


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    """JSON ``{"detail": message, ...}`` for the API, else the error page."""
    if _wants_page(request):
        return pages.render(
            request, current_role(request), "error.html", status,
            status=status, message=message, **extra,
        )  # fmt: skip
    return JSONResponse({"detail": message, **extra}, status_code=status)
