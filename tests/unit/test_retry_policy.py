"""The retry policy, as a table: error and attempt in, decision out."""

from __future__ import annotations

import random

import pytest

from audiobatch.errors import (
    AccountError,
    ApiBusyError,
    ApiTransportError,
    AudiobatchError,
    ConcurrencyLimitError,
    DatabaseUnavailableError,
    FatalApiError,
    LimiterUnavailableError,
    StorageConflictError,
    StorageIntegrityError,
    StoragePermanentError,
    StorageUnavailableError,
)
from audiobatch.retry import RetryPolicy, decide, uses_attempt

POLICY = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=60.0)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ConcurrencyLimitError("busy", status=429, code="too_many_concurrent_requests"), True),
        (ApiBusyError("busy", status=429, code="system_busy"), True),
        (ApiBusyError("oops", status=503), True),
        (ApiTransportError("cut short"), True),
        (StorageUnavailableError("s3 down"), True),
        (LimiterUnavailableError("redis down"), True),
        (DatabaseUnavailableError("postgres restarting"), True),
        (FatalApiError("bad", status=422), False),
        (FatalApiError("no voice", status=404, code="voice_not_found"), False),
        (AccountError("bad key", status=401, code="invalid_api_key"), False),
        (StorageIntegrityError("sha mismatch"), False),
        (StoragePermanentError("name too long"), False),
        (StorageConflictError("a late writer's object"), True),
        (AudiobatchError("internal"), False),
    ],
)
def test_retry_is_decided_by_the_error_class(error: AudiobatchError, retry: bool) -> None:
    assert decide(error, 1, POLICY, random.Random(1)).retry is retry


def test_no_retry_once_the_attempts_are_used_up() -> None:
    decision = decide(ApiBusyError("x", status=500), 5, POLICY, random.Random(1))
    assert not decision.retry
    assert "5 attempts" in decision.reason


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)]:
        delays = [decide(ApiBusyError("x"), attempt, POLICY, rng).delay_s for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # the whole range is used
    capped = RetryPolicy(max_attempts=50, max_delay_s=10.0)
    assert max(decide(ApiBusyError("x"), 30, capped, rng).delay_s for _ in range(100)) <= 10.0


def test_a_concurrency_limit_waits_only_briefly() -> None:
    rng = random.Random(3)
    delays = [decide(ConcurrencyLimitError("x"), 4, POLICY, rng).delay_s for _ in range(100)]
    assert all(0.5 <= d <= 3.0 for d in delays)


def test_retry_after_from_the_api_is_honoured_up_to_the_cap() -> None:
    assert decide(ApiBusyError("x", retry_after_s=7.0), 1, POLICY).delay_s == 7.0
    assert decide(ApiBusyError("x", retry_after_s=900.0), 1, POLICY).delay_s == 60.0


def test_a_kind_can_have_its_own_attempt_count() -> None:
    policy = RetryPolicy(max_attempts=5, max_attempts_by_kind={"music": 2})
    busy = ApiBusyError("x", status=503)
    assert not decide(busy, 2, policy.for_kind("music")).retry
    assert decide(busy, 2, policy.for_kind("dialogue")).retry


@pytest.mark.parametrize(
    "outage",
    [
        StorageUnavailableError("s3 down"),
        DatabaseUnavailableError("postgres restarting"),
        LimiterUnavailableError("redis down"),
        StorageConflictError("a late writer's object in the way"),
    ],
)
def test_an_outage_of_our_own_services_uses_up_no_attempt(outage: AudiobatchError) -> None:
    decision = decide(outage, 50, POLICY, random.Random(1))
    assert decision.retry and decision.delay_s <= POLICY.max_delay_s
    assert not uses_attempt(outage)
