"""Per-process resources of a worker, built from settings on first use (after any fork)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis
from celery import Celery

from audiobatch.backend import Backend
from audiobatch.config import Settings
from audiobatch.db.dispatch import Publish, TickResult, tick
from audiobatch.db.models import utcnow
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.elevenlabs.spool import remove_stale
from audiobatch.errors import ConfigError
from audiobatch.identity import process_identity
from audiobatch.limiter import POOLS, Limiter, LocalLimiter, RedisLimiter
from audiobatch.render.runner import Runtime
from audiobatch.retry import RetryPolicy
from audiobatch.storage import open_storage
from audiobatch.worker.app import publisher, queue_depths
from audiobatch.worker.shutdown import exit_for_lost_leases

LEFTOVER_AGE_S = 3600.0  # a partial write or spool this old has no writer left
REDIS_SOCKET_TIMEOUT_S = 10.0  # a Redis that stops answering is an outage, not a hang


def build_runtime(settings: Settings, publish: Publish) -> Runtime:
    """A :class:`Runtime` for this process: client, storage, limiter and SQL location."""
    if settings.api_key is None:
        raise ConfigError(
            "ELEVENLABS_API_KEY is not set: a worker needs a key (or use `audiobatch run`, "
            "which starts the built-in emulator)"
        )
    spool_root = (settings.home / "spool").resolve()
    remove_stale(spool_root, LEFTOVER_AGE_S)
    api_key = settings.api_key.get_secret_value()
    return Runtime(
        database_url=settings.resolved_database_url,
        storage=open_storage(settings.storage_url),
        client=ElevenLabsClient(settings.api_url, api_key),
        limiter=build_limiter(settings),
        publish=publish,
        worker=process_identity(),
        backend=Backend.of(settings.api_url, api_key),
        lease_s=settings.lease_s,
        on_leases_lost=exit_for_lost_leases,
        spool_root=spool_root,
        limits=settings.answer_limits,
        speech_rates=settings.speech_rates,
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            max_attempts_by_kind=settings.max_attempts_by_kind,
        ),
    )


def build_dispatcher(settings: Settings, app: Celery) -> Callable[[], TickResult]:
    """The dispatcher tick bound to this deployment's database, broker (``app``'s) and storage."""
    url, storage = settings.resolved_database_url, open_storage(settings.storage_url)
    publish, depths = publisher(app), queue_depths(app)

    def dispatch() -> TickResult:
        empty = frozenset(queue for queue, depth in depths().items() if depth == 0)
        return tick(
            url, publish, storage, utcnow(), settings.republish_after_s,
            settings.max_lost_leases, empty,
        )  # fmt: skip

    return dispatch


def build_housekeeper(settings: Settings) -> Callable[[], int]:
    """Housekeeping: remove what writers that died left in storage, and this host's answer
    spools that no worker touched for long; how many leftovers went."""
    storage, spool_root = open_storage(settings.storage_url), (settings.home / "spool").resolve()
    return lambda: (
        storage.remove_leftovers(LEFTOVER_AGE_S) + remove_stale(spool_root, LEFTOVER_AGE_S)
    )


def limiter_view(settings: Settings) -> dict[str, Any]:
    """What ``audiobatch limiter --json`` and the dashboard show: the limiter's scope, the key's
    hash (never the key) and each pool's slots in use and window."""
    shared = settings.resolved_redis_url is not None
    return {
        "scope": "shared through Redis" if shared else "in-process (no Redis): per worker",
        "key_hash": settings.api_key_hash,
        "pools": [asdict(build_limiter(settings).state(pool)) for pool in POOLS],
    }


def build_limiter(settings: Settings) -> Limiter:
    limits = {"general": settings.api_concurrency, "music": settings.music_concurrency}
    url = settings.resolved_redis_url
    if url is None:
        return LocalLimiter(limits)
    key = settings.api_key_hash or "anonymous"
    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=30,
    )
    return RedisLimiter(client, key, limits, lease_s=settings.lease_s)
