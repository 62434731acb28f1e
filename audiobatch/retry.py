"""The retry policy: a pure function from an error and the attempt count to a decision.

- A concurrency 429 waits briefly (a slot frees within a request's time), with jitter.
- Everything else retryable (busy, 5xx, timeouts, disconnects, truncated bodies, storage outages)
  backs off exponentially with full jitter and a cap, honouring ``Retry-After`` when the API sends it.
- Fatal errors and exhausted attempts fail the job with the API's message. An outage of our own
  storage, database or limiter uses up no attempt: the job waits it out, however long it lasts.
  Nor does a late writer's object found in the way of a create-only write (it is cleared at the
  next try, see :mod:`audiobatch.render.context`).
- Storage that refuses for good (:class:`StoragePermanentError`: a name too long, permissions, a
  bucket that does not exist) fails the job at once: waiting would never end.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from audiobatch.errors import (
    AudiobatchError,
    ConcurrencyLimitError,
    DatabaseUnavailableError,
    LimiterUnavailableError,
    RetryableApiError,
    StorageConflictError,
    StorageUnavailableError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait; ``max_attempts`` counts every API call of a job."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    concurrency_delay_s: tuple[float, float] = (0.5, 3.0)
    max_attempts_by_kind: Mapping[str, int] = field(default_factory=dict)

    def for_kind(self, kind: str) -> RetryPolicy:
        """This policy with the kind's own attempt count, where one is set."""
        return replace(self, max_attempts=self.max_attempts_by_kind.get(kind, self.max_attempts))


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_s: float = 0.0
    reason: str = ""


OUR_OUTAGES = StorageUnavailableError | DatabaseUnavailableError | LimiterUnavailableError
NOT_THE_JOBS_FAULT = OUR_OUTAGES | StorageConflictError


def is_retryable(error: AudiobatchError) -> bool:
    return isinstance(error, RetryableApiError | NOT_THE_JOBS_FAULT)


def uses_attempt(error: AudiobatchError) -> bool:
    """Whether a failure counts against the job's attempts: an outage of our own store, database
    or limiter does not, nor a late writer's object in the way (the API's answer, if any, is
    replayed from the spool)."""
    return not isinstance(error, NOT_THE_JOBS_FAULT)


def decide(
    error: AudiobatchError,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> RetryDecision:
    """Whether to retry after ``attempt`` (1-based) failed with ``error``, and after how long."""
    rng = rng or random.Random()
    if not is_retryable(error):
        return RetryDecision(retry=False, reason="not retryable")
    if attempt >= policy.max_attempts and uses_attempt(error):
        return RetryDecision(retry=False, reason=f"gave up after {attempt} attempts")
    retry_after_s = getattr(error, "retry_after_s", None)
    if retry_after_s is not None:
        return RetryDecision(
            retry=True, delay_s=min(retry_after_s, policy.max_delay_s), reason="retry-after"
        )
    if isinstance(error, ConcurrencyLimitError):
        low, high = policy.concurrency_delay_s
        return RetryDecision(retry=True, delay_s=rng.uniform(low, high), reason="concurrency")
    delay_s = backoff_s(attempt, policy.base_delay_s, policy.max_delay_s, rng)
    return RetryDecision(retry=True, delay_s=delay_s, reason="backoff")


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter after ``attempt`` (1-based) failed: a random wait up
    to ``base_s * 2 ** (attempt - 1)``, capped at ``cap_s``."""
    return rng.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))
