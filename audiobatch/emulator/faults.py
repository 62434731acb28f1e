"""Injected faults: answers the API gives on bad days, drawn from a seeded mix.

Status faults answer instead of the generation (in the API's several error-body shapes); body
faults spoil a successful answer: cut short of its Content-Length, cut off mid-stream, malformed
in the way of its format (a broken ZIP, a multipart body without its closing boundary, a line that
is not JSON), or a 200 with no body at all. ``short`` is a generation cut short that nothing on the
wire gives away: a dialogue answered with valid audio (and alignment) of only the first tenth of
its text, as a normal, billed 200.
"""

from __future__ import annotations

import random
import threading

from fastapi.responses import JSONResponse

from audiobatch.emulator.audio import Turn
from audiobatch.emulator.errors import api_error
from audiobatch.emulator.fault_names import FAULTS

SLOW_FIRST_BYTE_S = 2.0
RETRY_AFTER_S = 3  # sent with 503s; the busy 429s come without it, as both are seen
SHORT_SHARE = 0.1  # of a dialogue's characters the "short" fault speaks


class FaultPlan:
    """Which requests fail and how: a ``rate`` of them, each with a fault drawn from ``mix``."""

    def __init__(self, rate: float, mix: tuple[str, ...], seed: int) -> None:
        unknown = set(mix) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.rate, self.mix = rate, mix
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        if not self.mix or self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.mix)


def status_answer(fault: str) -> JSONResponse:
    if fault == "busy":
        return api_error(
            429,
            "system_busy",
            "Our services are experiencing high levels of traffic. Please retry.",
        )
    if fault == "503":
        answer = api_error(503, "service_unavailable", "The service is temporarily unavailable.")
        answer.headers["retry-after"] = str(RETRY_AFTER_S)
        return answer
    # the unwrapped legacy shape, as seen on real 500s
    return JSONResponse(
        status_code=500,
        content={
            "status": "internal_server_error",
            "message": "Internal Server error. All such crashes are reported to us automatically.",
        },
    )


def malformed(chunks: list[bytes], media_type: str) -> list[bytes]:
    """The answer spoiled in the way of its format."""
    body = b"".join(chunks)
    if media_type == "application/zip":
        return [body[: len(body) // 2] + b"\x00" * 64]
    if media_type.startswith("multipart/"):
        return [body[: body.rindex(b"\r\n--")]]  # no closing boundary
    if media_type == "application/json":
        return [*chunks[:1], b"data: {this is not json}\n", *chunks[1:]]
    return chunks


def cut_short(turns: list[Turn]) -> list[Turn]:
    """The turns a "short" generation speaks: the first tenth of the characters (one at least)."""
    left = max(1, int(sum(len(turn.text) for turn in turns) * SHORT_SHARE))
    spoken = []
    for turn in turns:
        if left <= 0:
            break
        spoken.append(Turn(turn.voice_id, turn.text[:left]))
        left -= len(turn.text)
    return spoken
