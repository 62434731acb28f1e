"""Who may act: reading is open to anyone who reaches the dashboard (viewer); write actions need
the operator role and proof that they were not sent from another site.

- Roles: with ``AUDIOBATCH_DASHBOARD_TOKEN`` unset everyone is an operator. Set, a request is an
  operator's when it carries the token as ``Authorization: Bearer TOKEN`` or the cookie the login
  form sets (an HMAC of the token, never the token itself).
- Cross-site requests: a POST whose ``Origin`` names another host, or that the browser marks
  ``Sec-Fetch-Site: cross-site``, is refused. Otherwise it must carry either the page's CSRF token
  (a form field or ``X-CSRF-Token`` equal to the ``audiobatch_csrf`` cookie: double submit), or
  a header no other site's page can send without a CORS preflight, which the dashboard never
  grants: ``Authorization`` or ``X-Requested-By`` (scripts and ``curl``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from pydantic import SecretStr

from audiobatch.dashboard.state import StateDep
from audiobatch.errors import CrossSiteRequestError, OperatorRequiredError

OPERATOR_COOKIE = "audiobatch_operator"
CSRF_COOKIE = "audiobatch_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SCRIPT_HEADER = "x-requested-by"


class Role(enum.StrEnum):
    VIEWER = "viewer"  # reads every page and JSON route
    OPERATOR = "operator"  # also retries, cancels, resumes, runs schedules, submits


def operator_cookie(token: SecretStr) -> str:
    """The login cookie's value: proves the token was given without storing it in the browser."""
    key = token.get_secret_value().encode()
    return hmac.new(key, b"audiobatch dashboard operator", hashlib.sha256).hexdigest()


def token_matches(given: str, token: SecretStr) -> bool:
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def role_of(request: Request, token: SecretStr | None) -> Role:
    if token is None:
        return Role.OPERATOR
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(given.strip(), token):
        return Role.OPERATOR
    cookie = request.cookies.get(OPERATOR_COOKIE, "")
    if cookie and hmac.compare_digest(cookie, operator_cookie(token)):
        return Role.OPERATOR
    return Role.VIEWER


def current_role(request: Request, state: StateDep) -> Role:
    return role_of(request, state.settings.dashboard_token)


RoleDep = Annotated[Role, Depends(current_role)]


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: its cookie, or a new one the response will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = request.state.new_csrf = secrets.token_urlsafe(24)
    return fresh


async def same_site(request: Request) -> None:
    """Refuse a write that another site's page may have sent (see the module note)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteRequestError("refused: the request came from another site's page")
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):  # "null" included
        raise CrossSiteRequestError(f"refused: the request came from {origin}")
    if "authorization" in request.headers or SCRIPT_HEADER in request.headers:
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
        raise OperatorRequiredError(
            "this action needs the operator token: log in, or send Authorization: Bearer TOKEN"
        )


Operator = Depends(require_operator)
SameSite = Depends(same_site)
