"""Who may act: reading is open to anyone who reaches the dashboard (viewer); write actions need
the operator role and proof that they were not sent from another site.

- Roles: with ``AUDIOBATCH_DASHBOARD_TOKEN`` unset everyone is an operator. Set, a request is an
  operator's when it carries the token as ``Authorization: Bearer TOKEN``, or the cookie of a
  login session (a random id kept server-side, see :mod:`audiobatch.db.logins`: it expires after
  ``AUDIOBATCH_DASHBOARD_SESSION_S``, is new at every login and ends at logout). A wrong Bearer
  token is refused (401) and counted: too many from one address within a minute, and that
  address is refused (429) for a while, at the login form too.
- Who sent a request is found by :mod:`audiobatch.dashboard.guard` from its headers, before a
  byte of the body is read; routes read it with :func:`caller_of`.
- Cross-site requests: a POST whose ``Origin`` names another host, or that the browser marks
  ``Sec-Fetch-Site: cross-site``, is refused. Otherwise it must carry one of:

  - a valid Bearer token: proof no page sent it (a browser never adds one on its own; any other
    ``Authorization``, such as the ``Basic`` credentials a browser replays to a proxy, proves
    nothing and does not count);
  - the page's CSRF token, a form field or ``X-CSRF-Token`` equal to the ``audiobatch_csrf``
    cookie (double submit);
  - an ``X-Requested-By`` header (scripts and ``curl`` while no token is set). Another site's
    page cannot send a custom header without a CORS preflight, which the dashboard never grants,
    and a rebound DNS name is refused by the Host allowlist, so the header is proof enough.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from pydantic import SecretStr
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Scope

from audiobatch.errors import CrossSiteRequestError, OperatorRequiredError

SESSION_COOKIE = "audiobatch_session"
CSRF_COOKIE = "audiobatch_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SCRIPT_HEADER = "x-requested-by"
OPERATOR_NEEDED = (
    "this action needs the operator token: log in, or send Authorization: Bearer TOKEN"
)


class Role(enum.StrEnum):
    VIEWER = "viewer"  # reads every page and JSON route
    OPERATOR = "operator"  # also retries, cancels, resumes, runs schedules, submits


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as its headers show."""

    role: Role
    bearer: bool = False  # proved by a valid Bearer token: no page can have sent it


ANONYMOUS = Caller(Role.VIEWER)


def token_digest(token: SecretStr) -> str:
    """Names the token without revealing it: login sessions record the token they were opened
    with, so setting another token ends them."""
    key = token.get_secret_value().encode()
    return hmac.new(key, b"audiobatch dashboard operator", hashlib.sha256).hexdigest()


def token_matches(given: str, token: SecretStr) -> bool:
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(),
        hashlib.sha256(token.get_secret_value().encode()).digest(),
    )


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None for any other or none."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def caller_of(request: Request) -> Caller:
    """Who sent the request (found by the guard; a viewer when the guard did not run)."""
    caller: Caller = getattr(request.state, "caller", ANONYMOUS)
    return caller


def current_role(request: Request) -> Role:
    return caller_of(request).role


RoleDep = Annotated[Role, Depends(current_role)]


def is_https(request: Request) -> bool:
    """Whether the browser reached the dashboard over HTTPS (as a trusted proxy says, behind
    one): its cookies are then ``Secure``."""
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: its cookie, or a new one the response will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = request.state.new_csrf = secrets.token_urlsafe(24)
    return fresh


def set_fresh_csrf_cookie(scope: Scope, headers: MutableHeaders) -> None:
    """Hand a browser the CSRF token its forms were rendered with, when one was made for this
    request (double submit; an :class:`~audiobatch.asgi.EditResponseHeaders` edit)."""
    fresh = scope.get("state", {}).get("new_csrf")
    if fresh is None:
        return
    cookie = Response()
    secure = scope["scheme"] == "https"
    cookie.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="strict", secure=secure)
    headers.append("set-cookie", cookie.headers["set-cookie"])


async def same_site(request: Request) -> None:
    """Refuse a write that another site's page may have sent (see the module note)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteRequestError("refused: the request came from another site's page")
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):  # "null" included
        raise CrossSiteRequestError(f"refused: the request came from {origin}")
    if caller_of(request).bearer or SCRIPT_HEADER in request.headers:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER)
    if given is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not cookie or not given or not hmac.compare_digest(cookie, given):
        raise CrossSiteRequestError(
            "refused: no CSRF token (reload the page; scripts send an X-Requested-By header)"
        )


async def require_operator(request: Request, role: RoleDep) -> None:
    """A write action's guard: sent from this site, by an operator."""
    await same_site(request)
    if role is not Role.OPERATOR:
        raise OperatorRequiredError(OPERATOR_NEEDED)


Operator = Depends(require_operator)
SameSite = Depends(same_site)
