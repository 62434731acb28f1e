"""Per-process resources of a worker, built from settings on first use (after any fork)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis
from celery import Celery

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

LEFTOVER_AGE_S = 3600.0  # a partial write or spool this old has no writer left


def build_runtime(settings: Settings, publish: Publish) -> Runtime:
    """A :class:`Runtime` for this process: client, storage, limiter and SQL location."""
    if settings.api_key is None:
        raise ConfigError(
            "ELEVENLABS_API_KEY is not set: a worker needs a key (or use `audiobatch run`, "
            "which starts the built-in emulator)"
        )
    spool_root = (settings.home / "spool").resolve()
    remove_stale(spool_root, LEFTOVER_AGE_S)
    return Runtime(
        database_url=settings.resolved_database_url,
        storage=open_storage(settings.storage_url),
        client=ElevenLabsClient(settings.api_url, settings.api_key.get_secret_value()),
        limiter=build_limiter(settings),
        publish=publish,
        worker=process_identity(),
        lease_s=settings.lease_s,
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
    """Housekeeping: remove what writers that died left in storage; how many leftovers went."""
    storage = open_storage(settings.storage_url)
    return lambda: storage.remove_leftovers(LEFTOVER_AGE_S)


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
    return RedisLimiter(redis.Redis.from_url(url), key, limits, lease_s=settings.lease_s)
