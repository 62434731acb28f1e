"""The four dialogue endpoints: plain, streamed, with timestamps, streamed with timestamps."""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from audiobatch.emulator.audio import OutputFormat, Plan, Turn, render
from audiobatch.emulator.cache import RenderCache
from audiobatch.emulator.errors import api_error
from audiobatch.emulator.faults import cut_short
from audiobatch.emulator.gate import Gate, split
from audiobatch.emulator.params import Format, Key

ROUTES = (  # path, streamed, with timestamps
    ("/v1/text-to-dialogue", False, False),
    ("/v1/text-to-dialogue/stream", True, False),
    ("/v1/text-to-dialogue/with-timestamps", False, True),
    ("/v1/text-to-dialogue/stream/with-timestamps", True, True),
)
MAX_VOICES = 10
MAX_TEXT_CHARS = 5000


class DialogueInput(BaseModel):
    text: str
    voice_id: str


class Settings(BaseModel):
    stability: float | None = None


class DictionaryLocator(BaseModel):
    pronunciation_dictionary_id: str
    version_id: str | None = None


class DialogueBody(BaseModel):
    inputs: list[DialogueInput]
    model_id: str = "eleven_v3"
    language_code: str | None = None
    settings: Settings | None = None
    pronunciation_dictionary_locators: list[DictionaryLocator] | None = Field(
        default=None, max_length=3
    )
    seed: int | None = Field(default=None, ge=0, le=4_294_967_295)
    apply_text_normalization: Literal["auto", "on", "off"] = "auto"


def check(body: DialogueBody) -> JSONResponse | None:
    """The API's own limits on a well-formed body: 400 for text, 404 for voices."""
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
        return api_error(400, "too_many_voices", f"A dialogue can use at most {MAX_VOICES} voices.")
    for line in body.inputs:
        if not is_voice_id(line.voice_id):
            return voice_not_found(line.voice_id)
    return None


def is_voice_id(value: str) -> bool:
    return len(value) == 20 and value.isascii() and value.isalnum()


def voice_not_found(voice_id: str) -> JSONResponse:
    return api_error(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")


def register(app: FastAPI, gate: Gate, cache: RenderCache) -> None:
    async def dialogue(
        path: str,
        body: DialogueBody,
        output_format: str,
        api_key: str | None,
        *,
        stream: bool,
        timestamps: bool,
    ) -> Response:
        cost = sum(len(line.text) for line in body.inputs)
        admission = gate.enter(api_key, "general", lambda: check(body), cost)
        if isinstance(admission, JSONResponse):
            return admission
        fmt = OutputFormat.parse(output_format)
        turns = [Turn(line.voice_id, line.text) for line in body.inputs]
        short = admission.fault == "short"
        if short:
            turns = cut_short(turns)
        digest = cache.digest("dialogue", fmt.name, body.model_dump_json(), short)
        audio, layout = await gate.produce(admission, cache.get(digest, lambda: render(turns, fmt)))
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
            chunks, media_type = split(audio), fmt.content_type
        return gate.respond(
            admission, path, chunks, media_type, audio=audio, character_cost=cost, stream=stream
        )

    def route(path: str, *, stream: bool, timestamps: bool) -> None:
        async def endpoint(
            body: DialogueBody, xi_api_key: Key = None, output_format: Format = "mp3_44100_128"
        ) -> Response:
            return await dialogue(
                path, body, output_format, xi_api_key, stream=stream, timestamps=timestamps
            )

        app.post(path)(endpoint)

    for path, stream, timestamps in ROUTES:
        route(path, stream=stream, timestamps=timestamps)


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
