"""What every endpoint shares: the key check, the pool's concurrency, latency, headers, ledger."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi.responses import JSONResponse, StreamingResponse

from audiobatch.emulator.errors import api_error, legacy_error, new_request_id
from audiobatch.emulator.fault_names import STATUS_FAULTS
from audiobatch.emulator.faults import SLOW_FIRST_BYTE_S, FaultPlan, malformed, status_answer
from audiobatch.emulator.state import QUOTA_PERIOD_S, EmulatorState, key_hash

STREAM_CHUNK_BYTES = 16 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves: per-key concurrency per pool, latency, accepted keys."""

    concurrency: int = 2
    music_concurrency: int = 2
    latency_ms: int = 0  # generation time: from admission to the answer's last byte
    api_keys: frozenset[str] | None = None
    seed: int = 0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()  # the mix faults are drawn from; see emulator.faults
    quota_chars: int | None = None  # characters each key may spend; None is unlimited
    quota_period_s: float = QUOTA_PERIOD_S  # how often what each key spent is forgotten
    identify: bool = True  # the x-audiobatch-emulator header; off only to pose as the real API

    def limit(self, pool: str) -> int:
        return self.music_concurrency if pool == "music" else self.concurrency


@dataclass(frozen=True)
class Admission:
    who: str  # the key's hash: the key itself is never kept
    pool: str
    in_flight: int
    fault: str | None = None  # a body fault to inflict on the answer
    reserved: int = 0  # characters taken from the quota on admission
    admitted_at: float = field(default_factory=time.monotonic)


class Disconnect(Exception):
    """Raised mid-body to drop the connection, as a failing server does."""


class Gate:
    def __init__(self, config: EmulatorConfig, state: EmulatorState) -> None:
        self.config = config
        self.state = state
        self.faults = FaultPlan(config.fault_rate, config.faults, config.seed)

    def authorize(self, api_key: str | None) -> str | JSONResponse:
        if not api_key:
            self.state.count(401)
            return api_error(
                401, "missing_api_key", "Please provide an API key in the xi-api-key header."
            )
        if self.config.api_keys is not None and api_key not in self.config.api_keys:
            self.state.count(401)
            return api_error(401, "invalid_api_key", "Invalid API key.")
        return key_hash(api_key)

    def refuse(self, response: JSONResponse) -> JSONResponse:
        self.state.count(response.status_code)
        return response

    def enter(
        self,
        api_key: str | None,
        pool: str,
        check: Callable[[], JSONResponse | None] = lambda: None,
        cost: int = 0,
    ) -> Admission | JSONResponse:
        """Key, the request's own limits (``check``), quota for ``cost``, then a place in the pool.

        ``cost`` is the request's character cost when it is known before generating (dialogue);
        other requests are refused only once the quota is spent.
        """
        who = self.authorize(api_key)
        if isinstance(who, JSONResponse):
            return who
        problem = check()
        if problem is not None:
            return self.refuse(problem)
        over = self.state.reserve(who, cost)
        if over is not None:
            quota, remaining = over
            return self.refuse(
                legacy_error(
                    401,
                    "quota_exceeded",
                    f"This request exceeds your quota of {quota}. You have {remaining} credits "
                    f"remaining, while {max(cost, 1)} credits are required for this request.",
                )
            )
        admission = self.admit(who, pool, cost)
        if isinstance(admission, JSONResponse):
            self.state.charge(who, -cost)
        return admission

    async def produce(self, admission: Admission, work: Awaitable[T]) -> T:
        """Await the generation; if it fails, its place in the pool and its characters go back."""
        try:
            return await work
        except BaseException:
            self.release(admission)
            raise

    def admit(self, who: str, pool: str, reserved: int = 0) -> Admission | JSONResponse:
        fault = self.faults.draw()
        if fault in STATUS_FAULTS:
            answer = status_answer(fault)
            self.state.count(answer.status_code)
            return answer
        limit = self.config.limit(pool)
        in_flight = self.state.enter(who, pool, limit)
        if in_flight is None:
            self.state.count(429, over_limit=True)
            return api_error(
                429,
                "concurrent_limit_exceeded",
                "Too many concurrent requests. Your current subscription is associated with a "
                f"maximum of {limit} concurrent requests (running in parallel).",
                legacy_status="too_many_concurrent_requests",
            )
        return Admission(who, pool, in_flight, fault, reserved)

    def respond(
        self,
        admission: Admission,
        path: str,
        chunks: list[bytes],
        media_type: str,
        *,
        audio: bytes,
        character_cost: int,
        stream: bool,
        extra_headers: dict[str, str] | None = None,
    ) -> StreamingResponse:
        """Send ``chunks`` once the configured latency has passed since admission (the emulator's
        own work counts towards it, as the API's does), then free the pool place and log it."""
        request_id = new_request_id()
        served = b"".join(chunks)
        headers = {
            "request-id": request_id,
            "history-item-id": uuid.uuid4().hex[:20],
            "character-cost": str(character_cost),
            "current-concurrent-requests": str(admission.in_flight),
            "maximum-concurrent-requests": str(self.config.limit(admission.pool)),
            **(extra_headers or {}),
        }
        fault = admission.fault
        if fault == "malformed":
            chunks = malformed(chunks, media_type)
        if fault == "empty":
            chunks = []
        if not stream and chunks:
            # (an empty answer goes chunked: with a zero Content-Length the client would have it
            # whole at once, while the generation still holds its place in the pool)
            headers["content-length"] = str(len(b"".join(chunks)))
        if fault in ("truncate", "disconnect"):  # half the body, then the connection drops
            chunks = [served[: len(served) // 2]]
        chunks = chunks or [b""]
        state, latency_s = self.state, self.config.latency_ms / 1000
        if fault == "slow":
            latency_s += SLOW_FIRST_BYTE_S
        # what the ledger and the bill count: answers delivered whole (a "malformed" fault leaves
        # formats it has no way to spoil, such as raw audio, as they are)
        complete = fault != "disconnect" and b"".join(chunks) == served

        async def send() -> AsyncIterator[bytes]:
            # Like the API, the place in the pool is freed when generation ends, which is before
            # the last bytes have drained through the socket.
            left = False
            try:
                wait_s = latency_s - (time.monotonic() - admission.admitted_at)
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                for n, chunk in enumerate(chunks):
                    if n == len(chunks) - 1:
                        state.leave(admission.who, admission.pool)
                        left = True
                        # a spoiled answer is not billed; a good one costs what its header says
                        state.charge(
                            admission.who,
                            (character_cost if complete else 0) - admission.reserved,
                        )
                        if complete:
                            state.record(
                                request_id,
                                path,
                                served,
                                hashlib.sha256(audio).hexdigest(),
                                admission.who,
                            )
                        state.count(200)
                    yield chunk
                if fault == "disconnect":
                    raise Disconnect("connection dropped mid-body")
            finally:
                if not left:
                    self.release(admission)

        return StreamingResponse(send(), media_type=media_type, headers=headers)

    def release(self, admission: Admission) -> None:
        """Give back the place in the pool and the characters of a generation that failed."""
        self.state.leave(admission.who, admission.pool)
        self.state.charge(admission.who, -admission.reserved)


def split(data: bytes, size: int = STREAM_CHUNK_BYTES) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
