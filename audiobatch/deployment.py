"""What every process of a deployment builds alike from its settings: the account's limiter and
what the CLI and dashboard show of it, the reconciler tick, the webhook sender, and
housekeeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis
from celery import Celery

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.broker import publisher, queue_depths
from audiobatch.config import Settings
from audiobatch.db.clock import database_clock
from audiobatch.db.reconcile import TickResult, tick
from audiobatch.elevenlabs.spool import remove_stale
from audiobatch.limiter import POOLS, Limiter, LocalLimiter, RedisLimiter
from audiobatch.storage import open_storage
from audiobatch.webhooks.sender import SenderConfig, WebhookSender, build_client

LEFTOVER_AGE_S = 3600.0  # a partial write or spool this old has no writer left
REDIS_SOCKET_TIMEOUT_S = 10.0  # a Redis that stops answering is an outage, not a hang


def build_reconciler(settings: Settings, app: Celery) -> Callable[[], TickResult]:
    """The reconciler tick bound to this deployment's database, broker (``app``'s) and storage."""
    url, storage = settings.resolved_database_url, open_storage(settings.storage_url)
    publish, depths = publisher(app), queue_depths(app)
    backstop_at = time.monotonic()  # the first tick looks at pending jobs too
    clock = database_clock(url)

    def reconcile() -> TickResult:
        nonlocal backstop_at
        now = clock()  # before the depths: a wake-up sent before now is counted in them
        backstop = time.monotonic() >= backstop_at
        if backstop:
            backstop_at = time.monotonic() + BACKSTOP_EVERY_S
        return tick(
            url, publish, storage, now, settings.republish_after_s, settings.max_lost_leases,
            depths(), backstop=backstop,
        )  # fmt: skip

    return reconcile


BACKSTOP_EVERY_S = 10.0
"""How often a tick also queues (or fails) pending jobs whose parents' finishers died before
doing it: a finisher that lives does it at once, and checking every pending job's parents is
most of a tick's work on a large graph."""


def build_webhook_sender(settings: Settings) -> WebhookSender:
    """The webhook sender bound to this deployment's database, URL and secret."""
    secret = settings.webhook_secret
    config = SenderConfig(
        database_url=settings.resolved_database_url,
        deployment_url=settings.webhook_url,
        secret=None if secret is None else secret.get_secret_value(),
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
    )
    return WebhookSender(
        config, build_client(config), clock=database_clock(settings.resolved_database_url)
    )


def build_housekeeper(settings: Settings) -> Callable[[], int]:
    """Housekeeping: remove what writers that died left in storage, and this host's answer
    spools that no worker touched for long; how many leftovers went."""
    storage, spool_root = open_storage(settings.storage_url), (settings.home / "spool").resolve()
    return lambda: (
        storage.remove_leftovers(LEFTOVER_AGE_S) + remove_stale(spool_root, LEFTOVER_AGE_S)
    )


def limiter_view(settings: Settings, account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """What ``audiobatch limiter --json`` and the dashboard show of ``account``'s limiter: its
    scope, the key's hash (never the key) and each pool's slots in use and window."""
    shared = settings.resolved_redis_url is not None
    key_hash = settings.api_key_hash
    if account != DEFAULT_ACCOUNT:
        key_hash = settings.account_registry().key_hash(account)
    return {
        "scope": "shared through Redis" if shared else "in-process (no Redis): per worker",
        "key_hash": key_hash,
        "pools": [asdict(build_limiter(settings, key_hash).state(pool)) for pool in POOLS],
    }


def build_limiter(settings: Settings, key_hash: str | None = None) -> Limiter:
    """The limiter of the account whose key hashes to ``key_hash`` (None: the default
    account's): each key has pools of its own, shared through Redis by every worker."""
    limits = {"general": settings.api_concurrency, "music": settings.music_concurrency}
    url = settings.resolved_redis_url
    if url is None:
        return LocalLimiter(limits)
    key = key_hash or settings.api_key_hash or "anonymous"
    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=30,
    )
    return RedisLimiter(client, key, limits, lease_s=settings.lease_s)
