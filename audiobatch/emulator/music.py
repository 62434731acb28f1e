"""The music endpoints: compose (plain, streamed, detailed multipart/mixed) and composition plans."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from audiobatch.emulator.audio import OutputFormat, encode
from audiobatch.emulator.cache import RenderCache
from audiobatch.emulator.errors import api_error
from audiobatch.emulator.gate import Gate, split
from audiobatch.emulator.params import Key, MusicFormat

DEFAULT_LENGTH_MS = 10_000
ROUTES = (  # path, streamed, detailed (multipart/mixed)
    ("/v1/music", False, False),
    ("/v1/music/stream", True, False),
    ("/v1/music/detailed", False, True),
)
MusicLengthMs = Annotated[int, Field(ge=3_000, le=600_000)]


class TimeRange(BaseModel):
    start_ms: int
    end_ms: int


class SectionSource(BaseModel):
    song_id: str
    range: TimeRange
    negative_ranges: list[TimeRange] | None = None


class SongSection(BaseModel):
    section_name: str
    positive_local_styles: list[str]
    negative_local_styles: list[str]
    duration_ms: Annotated[int, Field(ge=3_000, le=120_000)]
    lines: list[str]
    source_from: SectionSource | None = None


class MusicPrompt(BaseModel):
    positive_global_styles: list[str]
    negative_global_styles: list[str]
    sections: Annotated[list[SongSection], Field(min_length=1, max_length=30)]


class ComposeBody(BaseModel):
    prompt: Annotated[str, Field(max_length=4100)] | None = None
    composition_plan: MusicPrompt | None = None
    music_length_ms: MusicLengthMs | None = None
    model_id: str = "music_v1"
    seed: int | None = None
    force_instrumental: bool = False
    respect_sections_durations: bool = True
    store_for_inpainting: bool = False


class PlanBody(BaseModel):
    prompt: Annotated[str, Field(max_length=4100)]
    music_length_ms: MusicLengthMs | None = None
    source_composition_plan: MusicPrompt | None = None
    model_id: str = "music_v1"


def check(body: ComposeBody) -> JSONResponse | None:
    if (body.prompt is None) == (body.composition_plan is None):
        return api_error(
            400, "invalid_parameters", "Provide exactly one of prompt or composition_plan."
        )
    if body.composition_plan is not None and body.music_length_ms is not None:
        return api_error(
            400,
            "invalid_parameters",
            "music_length_ms can only be used with a prompt, not a composition_plan.",
        )
    if body.prompt is not None and not body.prompt.strip():
        return api_error(400, "empty_text", "The prompt must not be empty.")
    return None


def length_ms(body: ComposeBody) -> int:
    if body.composition_plan is not None:
        return sum(s.duration_ms for s in body.composition_plan.sections)
    return body.music_length_ms or DEFAULT_LENGTH_MS


def compose(body: ComposeBody, fmt: OutputFormat) -> bytes:
    """A chord progression picked from the request; deterministic, as long as asked."""
    rate = fmt.rate_hz
    seed = int.from_bytes(hashlib.sha256(body.model_dump_json().encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    total = int(length_ms(body) * rate / 1000)
    t = np.arange(total, dtype=np.float32) / rate
    beat_s = 60.0 / (80 + seed % 60)
    roots = 110.0 * 2 ** (rng.integers(0, 12, size=8) / 12)
    chord = roots[(t // (beat_s * 4)).astype(int) % len(roots)]
    samples = sum(0.2 * np.sin(2 * np.pi * chord * ratio * t) for ratio in (1.0, 1.26, 1.5))
    pulse = 0.5 + 0.5 * np.cos(2 * np.pi * t / beat_s) ** 8
    return encode(np.asarray(samples * pulse, dtype=np.float32), fmt)


def plan_for(body: PlanBody) -> dict[str, Any]:
    if body.source_composition_plan is not None:
        return body.source_composition_plan.model_dump()
    total = body.music_length_ms or DEFAULT_LENGTH_MS
    names = ["intro", "verse", "chorus", "outro"]
    count = max(1, min(len(names), total // 3_000))
    durations = [total // count] * count
    durations[-1] += total - sum(durations)
    words = [w for w in body.prompt.replace(",", " ").split() if len(w) > 3][:4] or ["music"]
    return {
        "positive_global_styles": words,
        "negative_global_styles": [],
        "sections": [
            {
                "section_name": names[n],
                "positive_local_styles": words[:2],
                "negative_local_styles": [],
                "duration_ms": duration,
                "lines": [],
            }
            for n, duration in enumerate(durations)
        ],
    }


def resolved(output_format: str, model_id: str) -> OutputFormat:
    if output_format == "auto":
        output_format = "mp3_48000_192" if model_id == "music_v2" else "mp3_44100_128"
    return OutputFormat.parse(output_format)


def multipart(metadata: dict[str, Any], audio: bytes, fmt: OutputFormat) -> tuple[list[bytes], str]:
    """Laid out as the official SDK parses it: the body starts with the boundary, CRLF throughout,
    one header line, a blank line and single-line JSON; then the audio part; then the close."""
    boundary = uuid.uuid5(uuid.NAMESPACE_OID, hashlib.sha256(audio).hexdigest()).hex
    head = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
        f"{json.dumps(metadata, separators=(',', ':'))}\r\n"
        f"--{boundary}\r\nContent-Type: {fmt.content_type}\r\n"
        f'Content-Disposition: attachment; filename="song.{fmt.codec}"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return [head, *split(audio), tail], f"multipart/mixed; boundary={boundary}"


def register(app: FastAPI, gate: Gate, cache: RenderCache) -> None:
    async def music(
        path: str,
        body: ComposeBody,
        output_format: str,
        api_key: str | None,
        *,
        stream: bool,
        detailed: bool,
    ) -> Response:
        admission = gate.enter(api_key, "music", lambda: check(body))
        if isinstance(admission, JSONResponse):
            return admission
        fmt = resolved(output_format, body.model_id)
        digest = cache.digest("music", fmt.name, body.model_dump_json())
        audio = await gate.produce(admission, cache.get(digest, lambda: compose(body, fmt)))
        song_id = hashlib.sha256(audio).hexdigest()[:20]
        headers = {"song-id": song_id} if body.store_for_inpainting else {}
        if detailed:
            plan = (
                body.composition_plan.model_dump()
                if body.composition_plan
                else plan_for(PlanBody(prompt=body.prompt or "", music_length_ms=length_ms(body)))
            )
            metadata = {
                "composition_plan": plan,
                "song_metadata": {
                    "title": (body.prompt or "Untitled")[:40],
                    "description": body.prompt or "",
                    "genres": plan["positive_global_styles"][:2],
                    "languages": [],
                    "is_explicit": False,
                },
                "words_timestamps": None,
            }
            chunks, media_type = multipart(metadata, audio, fmt)
        else:
            chunks, media_type = split(audio), fmt.content_type
        return gate.respond(
            admission,
            path,
            chunks,
            media_type,
            audio=audio,
            character_cost=0,
            stream=stream,
            extra_headers=headers,
        )

    def route(path: str, *, stream: bool, detailed: bool) -> None:
        async def endpoint(
            body: ComposeBody, xi_api_key: Key = None, output_format: MusicFormat = "mp3_44100_128"
        ) -> Response:
            return await music(
                path, body, output_format, xi_api_key, stream=stream, detailed=detailed
            )

        app.post(path)(endpoint)

    for path, stream, detailed in ROUTES:
        route(path, stream=stream, detailed=detailed)

    @app.post("/v1/music/plan")
    async def composition_plan(body: PlanBody, xi_api_key: Key = None) -> Response:
        admission = gate.enter(xi_api_key, "music")
        if isinstance(admission, JSONResponse):
            return admission
        raw = json.dumps(plan_for(body)).encode()
        return gate.respond(
            admission,
            "/v1/music/plan",
            [raw],
            "application/json",
            audio=b"",
            character_cost=0,
            stream=False,
        )
