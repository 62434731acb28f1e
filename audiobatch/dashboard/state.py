"""What every request of the dashboard shares: settings, the database, and the store and broker
made on first use (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from audiobatch.config import Settings
from audiobatch.dashboard.throttle import LoginThrottle
from audiobatch.dashboard.usage import UsageCache
from audiobatch.db.reconcile import Publish
from audiobatch.db.session import session_scope
from audiobatch.storage import Storage, open_storage

if TYPE_CHECKING:
    from celery import Celery
    from prometheus_client import CollectorRegistry


@dataclass
class DashboardState:
    settings: Settings
    database_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.database_url = self.settings.resolved_database_url

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings.storage_url, self.settings.storage_public_endpoint)

    @cached_property
    def celery(self) -> Celery:
        from audiobatch.broker import create_celery

        return create_celery(self.settings)

    @cached_property
    def throttle(self) -> LoginThrottle:
        """Wrong tokens counted per client address (Bearer headers and the login form)."""
        return LoginThrottle(self.settings.dashboard_login_failures_per_min)

    @cached_property
    def usage(self) -> UsageCache:
        return UsageCache(self.database_url)

    @cached_property
    def registry(self) -> CollectorRegistry:
        """The Prometheus registry whose metrics are read from this database."""
        from audiobatch.dashboard.metrics import registry_for

        return registry_for(self.database_url)

    @cached_property
    def publish(self) -> Publish:
        """Sends wake-ups for the jobs an action queued."""
        from audiobatch.broker import publisher

        return publisher(self.celery)


def dashboard_state(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state


StateDep = Annotated[DashboardState, Depends(dashboard_state)]


def _session(state: StateDep) -> Iterator[Session]:
    with session_scope(state.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]
