"""The limiter bounds in-flight work fleet-wide, and a dead holder's slot comes back."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest
import redis

from audiobatch.limiter import Limiter, LocalLimiter, RedisLimiter


def most_at_once(limiter: Limiter, pool: str, workers: int, hold_s: float) -> int:
    inside, peak = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with limiter.slot(pool):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(hold_s)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return peak


def limiter_of(kind: str, redis_client: redis.Redis, sizes: dict[str, int]) -> Limiter:
    return LocalLimiter(sizes) if kind == "local" else RedisLimiter(redis_client, "k", sizes)


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_the_local_limiter_keeps_each_pool_at_its_size() -> None:
    limiter = LocalLimiter({"general": 3, "music": 1})
    assert most_at_once(limiter, "general", 12, 0.02) == 3
    assert most_at_once(limiter, "music", 4, 0.02) == 1


def test_two_redis_limiters_on_one_key_share_one_limit(redis_client: redis.Redis) -> None:
    a = RedisLimiter(redis_client, "key1", {"general": 3, "music": 2})
    b = RedisLimiter(redis_client, "key1", {"general": 3, "music": 2})
    inside, peak = 0, 0
    lock = threading.Lock()

    def work(limiter: RedisLimiter) -> None:
        nonlocal inside, peak
        with limiter.slot("general"):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.03)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work, args=(a if i % 2 else b,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
    assert a.state("general").in_use == 0


def test_different_keys_and_pools_do_not_share_slots(redis_client: redis.Redis) -> None:
    one = RedisLimiter(redis_client, "key1", {"general": 1, "music": 1})
    two = RedisLimiter(redis_client, "key2", {"general": 1, "music": 1})
    with one.slot("general"), one.slot("music"), two.slot("general"):
        assert one.state("general").in_use == 1 and two.state("general").in_use == 1


def test_a_slot_held_by_a_killed_worker_frees_when_its_lease_runs_out(
    redis_client: redis.Redis,
) -> None:
    sizes = {"general": 1, "music": 1}
    processes = multiprocessing.get_context("fork")
    holding = processes.Event()

    def hold_for_ever() -> None:
        RedisLimiter(redis_client, "key1", sizes, lease_s=0.3).slot("general").__enter__()
        holding.set()
        time.sleep(600)

    dead = processes.Process(target=hold_for_ever)
    dead.start()
    assert holding.wait(10)
    os.kill(dead.pid or 0, signal.SIGKILL)  # killed holding it: nothing renews it now
    dead.join()
    acquired = threading.Event()

    def take() -> None:
        with RedisLimiter(redis_client, "key1", sizes, lease_s=0.3).slot("general"):
            acquired.set()

    threading.Thread(target=take, daemon=True).start()
    assert acquired.wait(10), "the killed worker's slot never came back"


def test_a_live_workers_slot_is_renewed_past_its_lease(redis_client: redis.Redis) -> None:
    sizes = {"general": 1, "music": 1}
    holder = RedisLimiter(redis_client, "key1", sizes, lease_s=0.3)
    other = RedisLimiter(redis_client, "key1", sizes, lease_s=0.3)
    with holder.slot("general"):
        time.sleep(0.9)
        assert other.state("general").in_use == 1  # three leases on
    assert other.state("general").in_use == 0


def test_no_key_is_stored_in_redis_only_its_hash(redis_client: redis.Redis) -> None:
    limiter = RedisLimiter(redis_client, "abc123", {"general": 1, "music": 1})
    with limiter.slot("general"):
        limiter.succeeded("general", None)
        keys = sorted(k.decode() for k in redis_client.keys("*"))
    assert keys == [
        "audiobatch:limiter:abc123:general:slots",
        "audiobatch:limiter:abc123:general:window",
    ]


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_throttling_halves_the_window_and_successes_grow_it_back_to_the_ceiling(
    kind: str, redis_client: redis.Redis
) -> None:
    sizes = {"general": 8, "music": 2}
    limiter = limiter_of(kind, redis_client, sizes)
    limiter.throttled("general")
    limiter.throttled("general")  # the same burst: counted once
    assert limiter.state("general").limit == 4
    for _ in range(200):
        limiter.succeeded("general", None)
    assert limiter.state("general").limit == 8


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_the_apis_maximum_header_lowers_the_ceiling(kind: str, redis_client: redis.Redis) -> None:
    sizes = {"general": 8, "music": 2}
    limiter = limiter_of(kind, redis_client, sizes)
    for _ in range(10):
        limiter.succeeded("general", 5)
    state = limiter.state("general")
    assert (state.ceiling, state.limit) == (5, 5)
    assert most_at_once(limiter, "general", 12, 0.02) == 5


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_slot_given_back_early_is_free_at_once_and_given_back_only_once(
    kind: str, redis_client: redis.Redis
) -> None:
    sizes = {"general": 2, "music": 1}
    limiter = limiter_of(kind, redis_client, sizes)

    def no_wait() -> None:
        raise AssertionError("the slot was not given back")

    with limiter.slot("general") as release:
        release()
        release()
        with limiter.slot("general", while_waiting=no_wait), limiter.slot("general", no_wait):
            assert limiter.state("general").in_use == 2
    assert limiter.state("general").in_use == 0


class _StopWaiting(Exception):
    pass


def _give_up() -> None:
    raise _StopWaiting


def test_a_worker_whose_clock_is_an_hour_behind_keeps_its_slot(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slot leases are timed by the Redis server's clock: a worker's own clock, however wrong,
    # neither expires the others' slots nor its own early.
    behind = RedisLimiter(redis_client, "clocks", {"general": 1}, lease_s=60)
    on_time = RedisLimiter(redis_client, "clocks", {"general": 1}, lease_s=60)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)
    with behind.slot("general"):
        monkeypatch.setattr(time, "time", real_time)
        with pytest.raises(_StopWaiting), on_time.slot("general", while_waiting=_give_up):
            pass
        assert on_time.state("general").in_use == 1


def test_a_changed_concurrency_setting_takes_effect_without_flushing_redis(
    redis_client: redis.Redis,
) -> None:
    wide = RedisLimiter(redis_client, "resized", {"general": 4})
    wide.succeeded("general", None)
    assert wide.state("general").limit == 4
    narrow = RedisLimiter(redis_client, "resized", {"general": 2})
    assert (narrow.state("general").ceiling, narrow.state("general").limit) == (2, 2)
    assert most_at_once(narrow, "general", 6, 0.05) == 2
    wider = RedisLimiter(redis_client, "resized", {"general": 6})
    assert wider.state("general").ceiling == 6
    for _ in range(20):
        wider.succeeded("general", None)
    assert most_at_once(wider, "general", 12, 0.05) == 6
