"""The concurrency limiter: at most N requests in flight per API key and pool, fleet-wide.

Two pools exist because the API limits them separately: ``general`` (dialogue, voice changes) and
``music`` (music and stems). With Redis, slots are leases in a sorted set scored by their expiry, so
a worker killed mid-request leaks its slot only until the lease runs out; without Redis the limit is
held in this process (the embedded default runs one worker process).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol

import redis

from audiobatch.errors import LimiterUnavailableError

POOLS = ("general", "music")

# KEYS[1] = slot set; ARGV = now_ms, lease_ms, limit, token. Drops expired leases, then takes a slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class Limiter(Protocol):
    def slot(self, pool: str) -> AbstractContextManager[None]:
        """Hold one of ``pool``'s slots for the duration of the block (waits for one to free)."""
        ...


class LocalLimiter:
    """In-process limiter: one semaphore per pool."""

    def __init__(self, limits: dict[str, int]) -> None:
        self._semaphores = {pool: threading.BoundedSemaphore(n) for pool, n in limits.items()}

    @contextmanager
    def slot(self, pool: str) -> Iterator[None]:
        semaphore = self._semaphores[pool]
        semaphore.acquire()
        try:
            yield
        finally:
            semaphore.release()


class RedisLimiter:
    """Fleet-wide limiter: leased slots in Redis, one sorted set per key hash and pool."""

    def __init__(
        self,
        client: redis.Redis,
        key_hash: str,
        limits: dict[str, int],
        *,
        lease_s: float = 600.0,
        poll_s: float = 0.02,
    ) -> None:
        self._redis = client
        self._key_hash = key_hash
        self._limits = limits
        self._lease_ms = int(lease_s * 1000)
        self._poll_s = poll_s
        self._acquire = client.register_script(_ACQUIRE)

    def _key(self, pool: str) -> str:
        return f"audiobatch:limiter:{self._key_hash}:{pool}"

    @contextmanager
    def slot(self, pool: str) -> Iterator[None]:
        key, token = self._key(pool), uuid.uuid4().hex
        try:
            while not self._acquire(
                keys=[key], args=[_now_ms(), self._lease_ms, self._limits[pool], token]
            ):
                time.sleep(self._poll_s)
        except redis.RedisError as exc:
            raise LimiterUnavailableError(f"limiter Redis unreachable: {exc}") from exc
        try:
            yield
        finally:
            with suppress(redis.RedisError):  # if Redis is gone, the lease expires by itself
                self._redis.zrem(key, token)

    def in_use(self, pool: str) -> int:
        key = self._key(pool)
        self._redis.zremrangebyscore(key, "-inf", _now_ms())
        return int(self._redis.zcard(key))


def _now_ms() -> int:
    return int(time.time() * 1000)
