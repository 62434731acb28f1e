"""Dashboard logins: a random session id per login, kept server-side with its expiry.

The browser holds the id in a cookie; the database holds only its SHA-256, so a copy of the
database opens no session. A session ends at logout, when it expires, or when the dashboard's
token changes (each row names, by an HMAC, the token it was opened with).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from audiobatch.db.models import DashboardSession


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def open_login(session: Session, token_digest: str, now: datetime, lifetime_s: float) -> str:
    """A new session, valid for ``lifetime_s``; the cookie value that proves it. Sessions
    already expired are removed on the way."""
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            id=_digest(cookie),
            token_digest=token_digest,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
        )
    )
    return cookie


def login_is_valid(session: Session, cookie: str, token_digest: str, now: datetime) -> bool:
    """Whether ``cookie`` names a session opened with this token that has not expired."""
    found = session.scalar(
        select(DashboardSession.id).where(
            DashboardSession.id == _digest(cookie),
            DashboardSession.token_digest == token_digest,
            DashboardSession.expires_at > now,
        )
    )
    return found is not None


def end_login(session: Session, cookie: str) -> None:
    """End the session ``cookie`` names (nothing if it names none)."""
    session.execute(delete(DashboardSession).where(DashboardSession.id == _digest(cookie)))
