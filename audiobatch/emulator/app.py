"""The emulator's HTTP app: the dialogue endpoints as the API serves them, plus its own ledger.

Checks in the API's order: key (401), body (422), limits (400), voices (404), concurrency (429).
A request holds its place in the key's pool until its whole body has been sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from audiobatch.emulator.audio import OutputFormat, Plan, Turn, render
from audiobatch.emulator.dialogue import MAX_TEXT_CHARS, MAX_VOICES, DialogueBody, OutputFormatName
from audiobatch.emulator.errors import api_error, new_request_id
from audiobatch.emulator.state import EmulatorState, key_hash

Key = Annotated[str | None, Header(alias="xi-api-key")]
Format = Annotated[OutputFormatName, Query()]

CACHE_ENTRIES = 256
STREAM_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves: per-key concurrency per pool, latency, accepted keys."""

    concurrency: int = 2
    music_concurrency: int = 2
    latency_ms: int = 0
    api_keys: frozenset[str] | None = None
    seed: int = 0


def create_app(config: EmulatorConfig) -> FastAPI:
    app = FastAPI(title="audiobatch emulator of the ElevenLabs API")
    state = EmulatorState()
    cache: OrderedDict[str, tuple[bytes, Plan]] = OrderedDict()
    app.state.emulator = state

    def authorize(api_key: str | None) -> JSONResponse | str:
        if not api_key:
            return api_error(
                401, "missing_api_key", "Please provide an API key in the xi-api-key header."
            )
        if config.api_keys is not None and api_key not in config.api_keys:
            return api_error(401, "invalid_api_key", "Invalid API key.")
        return key_hash(api_key)

    def check(body: DialogueBody) -> JSONResponse | None:
        if not body.inputs:
            return api_error(400, "empty_text", "inputs must not be empty.")
        if any(not line.text.strip() for line in body.inputs):
            return api_error(400, "empty_text", "Every input needs some text.")
        total = sum(len(line.text) for line in body.inputs)
        if total > MAX_TEXT_CHARS:
            return api_error(
                400,
                "text_too_long",
                f"Text is {total} characters; the limit is {MAX_TEXT_CHARS}.",
                legacy_status="max_character_limit_exceeded",
            )
        if len({line.voice_id for line in body.inputs}) > MAX_VOICES:
            return api_error(
                400, "too_many_voices", f"A dialogue can use at most {MAX_VOICES} voices."
            )
        for line in body.inputs:
            if not (
                len(line.voice_id) == 20 and line.voice_id.isalnum() and line.voice_id.isascii()
            ):
                return api_error(
                    404,
                    "voice_not_found",
                    f"A voice with the voice_id {line.voice_id} was not found.",
                )
        return None

    async def audio_for(body: DialogueBody, fmt: OutputFormat) -> tuple[bytes, Plan]:
        digest = hashlib.sha256(
            f"{config.seed}|{fmt.name}|{body.model_dump_json()}".encode()
        ).hexdigest()
        if digest not in cache:
            turns = [Turn(line.voice_id, line.text) for line in body.inputs]
            cache[digest] = await run_in_threadpool(render, turns, fmt)
            while len(cache) > CACHE_ENTRIES:
                cache.popitem(last=False)
        cache.move_to_end(digest)
        return cache[digest]

    async def dialogue(
        path: str,
        body: DialogueBody,
        output_format: str,
        api_key: str | None,
        *,
        stream: bool,
        timestamps: bool,
    ) -> Response:
        who = authorize(api_key)
        if isinstance(who, JSONResponse):
            state.count(401)
            return who
        problem = check(body)
        if problem is not None:
            state.count(problem.status_code)
            return problem
        in_flight = state.enter(who, "general", config.concurrency)
        if in_flight is None:
            state.count(429)
            return api_error(
                429,
                "concurrent_limit_exceeded",
                "Too many concurrent requests. Your current subscription is associated with a maximum "
                f"of {config.concurrency} concurrent requests (running in parallel).",
                legacy_status="too_many_concurrent_requests",
            )
        try:
            fmt = OutputFormat.parse(output_format)
            audio, layout = await audio_for(body, fmt)
        except BaseException:
            state.leave(who, "general")
            raise
        request_id = new_request_id()
        if timestamps:
            pieces = (
                _timestamp_lines(audio, layout, body)
                if stream
                else [_timestamp_object(audio, layout, body)]
            )
            chunks = [
                json.dumps(p, separators=(",", ":")).encode() + (b"\n" if stream else b"")
                for p in pieces
            ]
            media_type = "application/json"
        else:
            chunks = [
                audio[i : i + STREAM_CHUNK_BYTES] for i in range(0, len(audio), STREAM_CHUNK_BYTES)
            ] or [b""]
            media_type = fmt.content_type
        served = b"".join(chunks)
        headers = {
            "request-id": request_id,
            "history-item-id": uuid.uuid4().hex[:20],
            "character-cost": str(sum(len(line.text) for line in body.inputs)),
            "current-concurrent-requests": str(in_flight),
            "maximum-concurrent-requests": str(config.concurrency),
            "tts-latency-ms": str(config.latency_ms),
        }
        if not stream:
            headers["content-length"] = str(len(served))

        async def send() -> AsyncIterator[bytes]:
            # The place in the pool is held while generating (latency, every chunk but the last);
            # like the API, the count drops when generation ends, not when the socket drains.
            left = False
            try:
                if config.latency_ms:
                    await asyncio.sleep(config.latency_ms / 1000)
                for n, chunk in enumerate(chunks):
                    if n == len(chunks) - 1:
                        state.leave(who, "general")
                        left = True
                        state.record(
                            request_id, path, served, hashlib.sha256(audio).hexdigest(), who
                        )
                        state.count(200)
                    yield chunk
            finally:
                if not left:
                    state.leave(who, "general")

        return StreamingResponse(send(), media_type=media_type, headers=headers)

    @app.post("/v1/text-to-dialogue")
    async def convert(
        body: DialogueBody, xi_api_key: Key = None, output_format: Format = "mp3_44100_128"
    ) -> Response:
        return await dialogue(
            "/v1/text-to-dialogue", body, output_format, xi_api_key, stream=False, timestamps=False
        )

    @app.post("/v1/text-to-dialogue/stream")
    async def stream(
        body: DialogueBody, xi_api_key: Key = None, output_format: Format = "mp3_44100_128"
    ) -> Response:
        return await dialogue(
            "/v1/text-to-dialogue/stream",
            body,
            output_format,
            xi_api_key,
            stream=True,
            timestamps=False,
        )

    @app.post("/v1/text-to-dialogue/with-timestamps")
    async def with_timestamps(
        body: DialogueBody, xi_api_key: Key = None, output_format: Format = "mp3_44100_128"
    ) -> Response:
        return await dialogue(
            "/v1/text-to-dialogue/with-timestamps",
            body,
            output_format,
            xi_api_key,
            stream=False,
            timestamps=True,
        )

    @app.post("/v1/text-to-dialogue/stream/with-timestamps")
    async def stream_with_timestamps(
        body: DialogueBody, xi_api_key: Key = None, output_format: Format = "mp3_44100_128"
    ) -> Response:
        return await dialogue(
            "/v1/text-to-dialogue/stream/with-timestamps",
            body,
            output_format,
            xi_api_key,
            stream=True,
            timestamps=True,
        )

    @app.get("/_emulator/ledger")
    async def ledger() -> list[dict[str, Any]]:
        """Every generation served: request id, path, sha256 of the body and of the audio."""
        with state.lock:
            return list(state.ledger)

    @app.get("/_emulator/stats")
    async def stats() -> dict[str, Any]:
        return state.stats()

    return app


def _alignment(layout: Plan, first: int, last: int) -> dict[str, Any]:
    return {
        "characters": layout.characters[first:last],
        "character_start_times_seconds": layout.starts_s[first:last],
        "character_end_times_seconds": layout.ends_s[first:last],
    }


def _segments(layout: Plan, body: DialogueBody, only: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "voice_id": body.inputs[n].voice_id,
            "start_time_seconds": t0,
            "end_time_seconds": t1,
            "character_start_index": c0,
            "character_end_index": c1,
            "dialogue_input_index": n,
        }
        for n, (c0, c1, t0, t1) in enumerate(layout.turns)
        if only is None or n == only
    ]


def _timestamp_object(audio: bytes, layout: Plan, body: DialogueBody) -> dict[str, Any]:
    alignment = _alignment(layout, 0, len(layout.characters))
    return {
        "audio_base64": base64.b64encode(audio).decode(),
        "alignment": alignment,
        "normalized_alignment": alignment,
        "voice_segments": _segments(layout, body),
    }


def _timestamp_lines(audio: bytes, layout: Plan, body: DialogueBody) -> list[dict[str, Any]]:
    """One line per turn; each carries the audio bytes up to the end of its turn."""
    lines, sent = [], 0
    for n, (c0, c1, _, t1) in enumerate(layout.turns):
        last = n == len(layout.turns) - 1
        upto = len(audio) if last else int(len(audio) * t1 / layout.duration_s)
        alignment = _alignment(layout, c0, c1)
        lines.append(
            {
                "audio_base64": base64.b64encode(audio[sent:upto]).decode(),
                "alignment": alignment,
                "normalized_alignment": alignment,
                "voice_segments": _segments(layout, body, only=n),
            }
        )
        sent = upto
    return lines
