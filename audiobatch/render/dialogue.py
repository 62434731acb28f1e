"""Dialogue jobs: POST /v1/text-to-dialogue and its stream and timestamp variants.

Plain and streamed audio goes straight from the socket into storage. With timestamps, the audio is
base64 inside JSON (one object, or one object per line when streamed): it is decoded chunk by chunk
into storage while the alignment is gathered, then stored as ``alignment.json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

from audiobatch.elevenlabs.client import ApiAnswer
from audiobatch.errors import ApiTransportError
from audiobatch.manifest import DialogueJob
from audiobatch.render.alignment import Alignment
from audiobatch.render.context import RenderContext
from audiobatch.render.subtitles import cues_from_alignment, to_srt, to_vtt

REQUEST_FIELDS = (
    "model_id",
    "language_code",
    "settings",
    "pronunciation_dictionary_locators",
    "seed",
    "apply_text_normalization",
)


def dialogue_body(job: DialogueJob) -> dict[str, Any]:
    """The JSON body the API expects, from the job's validated fields."""
    body: dict[str, Any] = {
        "inputs": [{"text": line.text, "voice_id": line.voice_id} for line in job.inputs]
    }
    fields = job.model_dump(mode="json", include=set(REQUEST_FIELDS), exclude_none=True)
    body.update(fields)
    return body


def render_dialogue(job: DialogueJob, ctx: RenderContext) -> None:
    body, fmt = dialogue_body(job), job.output_format
    client = ctx.client
    if not job.timestamps:
        call = client.text_to_dialogue_stream if job.stream else client.text_to_dialogue
        ctx.store_answer(call(body, fmt), fmt)
        return
    alignment = Alignment()
    if job.stream:
        with client.text_to_dialogue_stream_with_timestamps(body, fmt) as answer:
            ctx.answered(answer)
            ctx.store_audio(_ndjson_audio(answer, alignment), fmt)
    else:
        with client.text_to_dialogue_with_timestamps(body, fmt) as answer:
            ctx.answered(answer)
            chunk = _json_object(answer.read(), answer)
            ctx.store_audio([_audio(chunk, answer)], fmt)
            alignment.add(chunk)
    store_timestamps(alignment, ctx)


def store_timestamps(alignment: Alignment, ctx: RenderContext) -> None:
    """Store ``alignment.json`` and the subtitles made from it (``subtitles.srt``, ``.vtt``)."""
    ctx.store("alignment.json", [alignment.to_json()], "application/json")
    cues = cues_from_alignment(alignment.alignment.as_dict(), alignment.voice_segments)
    ctx.store("subtitles.srt", [to_srt(cues).encode()], "application/x-subrip")
    ctx.store("subtitles.vtt", [to_vtt(cues).encode()], "text/vtt")


def _ndjson_audio(answer: ApiAnswer, alignment: Alignment) -> Iterator[bytes]:
    for line in answer.iter_lines():
        chunk = _json_object(line.encode(), answer)
        alignment.add(chunk)
        audio = _audio(chunk, answer)
        if audio:
            yield audio


def _json_object(raw: bytes, answer: ApiAnswer) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ApiTransportError(
            f"the API sent a line that is not JSON: {raw[:80]!r}", request_id=answer.request_id
        ) from exc
    if not isinstance(value, dict):
        raise ApiTransportError(
            "the API sent JSON that is not an object", request_id=answer.request_id
        )
    return value


def _audio(chunk: dict[str, Any], answer: ApiAnswer) -> bytes:
    encoded = chunk.get("audio_base64") or ""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiTransportError(
            "the API sent audio_base64 that does not decode", request_id=answer.request_id
        ) from exc
