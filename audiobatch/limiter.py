"""The concurrency limiter: at most N requests in flight per API key and pool, fleet-wide.

Two pools exist because the API limits them separately: ``general`` (dialogue, voice changes) and
``music`` (music and stems). With Redis, slots are leases in a sorted set scored by their expiry, so
a worker killed mid-request leaks its slot only until the lease runs out; a thread of the limiter's
own renews the slots it holds, so a Redis that stops answering holds up nothing else (the jobs'
leases are in SQL). Without Redis the limit is held in this process (the embedded default runs one
worker process).

The number of slots adapts (AIMD, like a TCP congestion window): a 429 concurrency answer halves it
(at most once per cooldown, so one burst of 429s counts once), each success adds ``1/limit``, and it
never rises above the ceiling: the configured size, lowered to the API's
``maximum-concurrent-requests`` header when that is smaller.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import Protocol

import redis

from audiobatch.errors import LimiterUnavailableError

log = logging.getLogger(__name__)

POOLS = ("general", "music")
DECREASE_COOLDOWN_S = 1.0
WAIT_STEP_S = 0.25  # how often a waiting caller's ``while_waiting`` runs


@dataclass(frozen=True)
class PoolState:
    """What the dashboard and CLI show of one pool."""

    pool: str
    size: int  # configured
    ceiling: int  # size, lowered by the API's header
    limit: float  # the adaptive window in force
    in_use: int


class Limiter(Protocol):
    def slot(
        self, pool: str, while_waiting: Callable[[], None] = lambda: None
    ) -> AbstractContextManager[Callable[[], None]]:
        """Hold one of ``pool``'s slots for the duration of the block, or until the function it
        gives is called (the API's answer is in: what remains of the block needs no slot).

        Waits for one to free, calling ``while_waiting`` every ``WAIT_STEP_S`` or so; an exception
        it raises ends the wait without a slot.
        """
        ...

    def succeeded(self, pool: str, maximum: int | None) -> None:
        """A request succeeded; ``maximum`` is the API's maximum-concurrent-requests, if sent."""
        ...

    def throttled(self, pool: str) -> None:
        """The API answered 429 too_many_concurrent_requests."""
        ...

    def state(self, pool: str) -> PoolState: ...

    def release_held(self) -> int:
        """Give back every slot this process holds (it is about to exit); how many it held."""
        ...


@dataclass
class Window:
    """AIMD arithmetic for one pool, free of I/O so it can be tested as a table."""

    size: int
    ceiling: int
    limit: float
    last_decrease_s: float = float("-inf")

    @classmethod
    def of(cls, size: int) -> Window:
        return cls(size=size, ceiling=size, limit=float(size))

    @property
    def slots(self) -> int:
        return max(1, int(self.limit))

    def on_success(self, maximum: int | None) -> None:
        if maximum is not None and maximum > 0:
            self.ceiling = min(self.size, maximum)
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))

    def on_throttled(self, now_s: float) -> None:
        if now_s - self.last_decrease_s >= DECREASE_COOLDOWN_S:
            self.limit = max(1.0, self.limit / 2)
            self.last_decrease_s = now_s


class LocalLimiter:
    """In-process limiter: one adaptive window per pool."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self._windows = {pool: Window.of(n) for pool, n in sizes.items()}
        self._in_use = dict.fromkeys(sizes, 0)
        self._changed = threading.Condition()

    @contextmanager
    def slot(
        self, pool: str, while_waiting: Callable[[], None] = lambda: None
    ) -> Iterator[Callable[[], None]]:
        with self._changed:
            while not self._changed.wait_for(
                lambda: self._in_use[pool] < self._windows[pool].slots, WAIT_STEP_S
            ):
                while_waiting()
            self._in_use[pool] += 1

        def give_back() -> None:
            with self._changed:
                self._in_use[pool] -= 1
                self._changed.notify_all()

        release = _once(give_back)
        try:
            yield release
        finally:
            release()

    def succeeded(self, pool: str, maximum: int | None) -> None:
        with self._changed:
            self._windows[pool].on_success(maximum)
            self._changed.notify_all()

    def throttled(self, pool: str) -> None:
        with self._changed:
            self._windows[pool].on_throttled(time.monotonic())

    def state(self, pool: str) -> PoolState:
        with self._changed:
            w = self._windows[pool]
            return PoolState(pool, w.size, w.ceiling, w.limit, self._in_use[pool])

    def release_held(self) -> int:
        # the slots live in this process and end with it: nothing to give back elsewhere
        with self._changed:
            return sum(self._in_use.values())


# Every script reads the time from the Redis server, never from the worker: slot leases expire
# by one clock, however far the workers' clocks drift apart. A window written under another
# configured size is fitted to the one in force (a changed setting needs no flush of Redis).
_NOW_AND_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local size = tonumber(ARGV[1])
local function window(key)
  local stored = redis.call('HMGET', key, 'size', 'ceiling', 'limit')
  if tonumber(stored[1]) ~= size then
    local limit = math.min(size, tonumber(stored[3] or size))
    redis.call('HSET', key, 'size', size, 'ceiling', size, 'limit', tostring(limit))
    return size, limit
  end
  return tonumber(stored[2] or size), tonumber(stored[3] or size)
end
"""

# KEYS: slot set, window hash. ARGV: size, lease_ms, token.
# Drops expired leases, then takes a slot if fewer than the window's slots are in use.
_ACQUIRE = (
    _NOW_AND_WINDOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ceiling, limit = window(KEYS[2])
if redis.call('ZCARD', KEYS[1]) < math.max(1, math.floor(limit)) then
  redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
)

# KEYS: window hash. ARGV: size, maximum (0 = none).
_SUCCESS = (
    _NOW_AND_WINDOW
    + """
local ceiling, limit = window(KEYS[1])
if tonumber(ARGV[2]) > 0 then ceiling = math.min(size, tonumber(ARGV[2])) end
limit = math.min(ceiling, limit + 1 / math.max(limit, 1))
redis.call('HSET', KEYS[1], 'limit', tostring(limit), 'ceiling', ceiling)
return tostring(limit)
"""
)

# KEYS: window hash. ARGV: size, cooldown_ms.
_THROTTLED = (
    _NOW_AND_WINDOW
    + """
local ceiling, limit = window(KEYS[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last_decrease_ms') or 0)
if now - last < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'limit', tostring(math.max(1, limit / 2)), 'last_decrease_ms', now)
return 1
"""
)

# KEYS: the slot sets. ARGV: size (unused), lease_ms, then per slot its set's index in KEYS and
# its token. XX: a slot already given back stays given back.
_RENEW = (
    _NOW_AND_WINDOW
    + """
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[tonumber(ARGV[i])], 'XX', now + ARGV[2], ARGV[i + 1])
end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return 1
"""
)

# KEYS: slot set, window hash. ARGV: size. The slots in use now, the window's ceiling and limit.
_STATE = (
    _NOW_AND_WINDOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ceiling, limit = window(KEYS[2])
return {redis.call('ZCARD', KEYS[1]), ceiling, tostring(limit)}
"""
)


class RedisLimiter:
    """Fleet-wide limiter: leased slots and a shared window in Redis, per key hash and pool.

    A caller that finds no free slot blocks on the pool's wake-up list; whoever gives a slot back
    pushes one wake-up to it, so the longest waiter in the fleet takes the slot within a round trip
    instead of at its next poll. The wait still times out every ``WAIT_STEP_S``: slots freed by
    lease expiry, or a window that widened, send no wake-up.
    """

    def __init__(
        self,
        client: redis.Redis,
        key_hash: str,
        sizes: dict[str, int],
        *,
        lease_s: float = 60.0,
    ) -> None:
        self._redis = client
        self._key_hash = key_hash
        self._sizes = sizes
        self._lease_ms = int(lease_s * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._success = client.register_script(_SUCCESS)
        self._throttled = client.register_script(_THROTTLED)
        self._renew = client.register_script(_RENEW)
        self._state = client.register_script(_STATE)
        self._held: dict[str, str] = {}  # token -> pool, the slots this process holds
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None  # runs while slots are held

    def _keys(self, pool: str) -> tuple[str, str]:
        base = f"audiobatch:limiter:{self._key_hash}:{pool}"
        return f"{base}:slots", f"{base}:window"

    def _wakeups(self, pool: str) -> str:
        return f"audiobatch:limiter:{self._key_hash}:{pool}:wakeups"

    @contextmanager
    def slot(
        self, pool: str, while_waiting: Callable[[], None] = lambda: None
    ) -> Iterator[Callable[[], None]]:
        slots, window = self._keys(pool)
        wakeups = self._wakeups(pool)
        token = uuid.uuid4().hex
        waited_since = time.monotonic()
        with _translated():
            while not self._acquire(
                keys=[slots, window], args=[self._sizes[pool], self._lease_ms, token]
            ):
                self._redis.blpop([wakeups], timeout=WAIT_STEP_S)
                if time.monotonic() - waited_since >= WAIT_STEP_S:
                    waited_since = time.monotonic()
                    while_waiting()
        with self._held_lock:
            self._held[token] = pool
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew_while_held, name="limiter-slots", daemon=True
                )
                self._renewer.start()

        def give_back() -> None:
            with self._held_lock:
                self._held.pop(token, None)
            self._give_back(pool, [token])

        release = _once(give_back)
        try:
            yield release
        finally:
            release()

    def _renew_while_held(self) -> None:
        """Push the held slots' leases forward every third of a lease until none is held; a
        Redis that cannot be reached is tried again at the next turn (the leases run out
        meanwhile, which frees the slots for the rest of the fleet)."""
        while True:
            time.sleep(self._lease_ms / 3000)
            with self._held_lock:  # nothing held: the thread ends, the next slot starts another
                if not self._held:
                    self._renewer = None
                    return
                held = dict(self._held)
            sets = sorted({self._keys(pool)[0] for pool in held.values()})
            args: list[str | int] = [0, self._lease_ms]
            for token, pool in held.items():
                args += [sets.index(self._keys(pool)[0]) + 1, token]
            try:
                self._renew(keys=sets, args=args)
            except redis.RedisError as exc:
                log.warning("renewing limiter slots failed: %s: %s", type(exc).__name__, exc)

    def release_held(self) -> int:
        with self._held_lock:
            held, self._held = self._held, {}
        for pool in set(held.values()):
            self._give_back(pool, [token for token, p in held.items() if p == pool])
        return len(held)

    def _give_back(self, pool: str, tokens: list[str]) -> None:
        slots, wakeups = self._keys(pool)[0], self._wakeups(pool)
        with suppress(redis.RedisError):  # if Redis is gone, the leases expire by themselves
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrem(slots, *tokens)
            pipe.rpush(wakeups, *[1] * len(tokens))
            pipe.ltrim(wakeups, -self._sizes[pool], -1)  # unclaimed wake-ups stay few
            pipe.pexpire(wakeups, self._lease_ms)
            pipe.execute()

    def succeeded(self, pool: str, maximum: int | None) -> None:
        with _translated():
            self._success(keys=[self._keys(pool)[1]], args=[self._sizes[pool], maximum or 0])

    def throttled(self, pool: str) -> None:
        cooldown_ms = int(DECREASE_COOLDOWN_S * 1000)
        with _translated():
            self._throttled(keys=[self._keys(pool)[1]], args=[self._sizes[pool], cooldown_ms])

    def state(self, pool: str) -> PoolState:
        size = self._sizes[pool]
        with _translated():
            in_use, ceiling, limit = self._state(keys=list(self._keys(pool)), args=[size])
        return PoolState(pool, size, int(ceiling), float(limit), int(in_use))


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """``action``, run on the first call only."""
    done = threading.Lock()

    def run() -> None:
        if done.acquire(blocking=False):
            action()

    return run


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise LimiterUnavailableError(f"the limiter's Redis is unreachable: {exc}") from exc
