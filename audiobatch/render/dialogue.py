"""Dialogue jobs: POST /v1/text-to-dialogue and its stream and timestamp variants.

Plain and streamed audio goes straight from the socket into storage. With timestamps, the audio is
base64 inside JSON (one object, or one object per line when streamed): it is decoded chunk by chunk
into storage while the alignment is gathered, then stored as ``alignment.json``. Either way the
audio must last about as long as its text takes to speak (:mod:`audiobatch.render.completeness`).
A job with chapters holds its audio in a temporary file until the alignment has placed them, then
stores it with them written in (:mod:`audiobatch.render.chapters`), brought to its loudness first.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from audiobatch.elevenlabs.client import ApiAnswer, json_object
from audiobatch.elevenlabs.formats import extension, is_raw, raw_duration_s
from audiobatch.errors import ApiTransportError
from audiobatch.manifest import DialogueJob
from audiobatch.render.alignment import Alignment
from audiobatch.render.chapters import ChapterMark, chapter_marks, is_tagged, write_chapters
from audiobatch.render.completeness import checked_duration, encoded_duration_s
from audiobatch.render.context import RenderContext
from audiobatch.render.loudness import file_frames, normalise
from audiobatch.render.subtitles import cues_from_alignment, to_srt, to_vtt

DEFAULT_MODEL_ID = "eleven_v3"  # the API's, for a job that names no model

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
    characters = sum(len(line.text) for line in job.inputs)
    least_s = ctx.speech_rates.least_duration_s(job.model_id or DEFAULT_MODEL_ID, characters)

    def store_whole(chunks: Iterable[bytes], answer: ApiAnswer) -> None:
        """Store the audio, unless it turns out shorter than its text allows."""
        ctx.store_audio(
            checked_duration(chunks, fmt, least_s, answer.request_id), fmt, job.loudness
        )

    if not job.timestamps:
        call = client.text_to_dialogue_stream if job.stream else client.text_to_dialogue
        with call(body, fmt) as answer:
            ctx.answered(answer)
            store_whole(answer.iter_bytes(), answer)
        return
    if job.chapters is None:
        store_timestamps(_timed(job, ctx, body, store_whole), ctx)
        return
    with tempfile.TemporaryDirectory(prefix="audiobatch-chapters-") as folder:
        held = Path(folder) / f"audio.{extension(fmt)}"

        def hold(chunks: Iterable[bytes], answer: ApiAnswer) -> None:
            """Keep the audio here until its chapters are written into it."""
            with open(held, "wb") as handle:
                for chunk in checked_duration(chunks, fmt, least_s, answer.request_id):
                    handle.write(chunk)

        alignment = _timed(job, ctx, body, hold)
        marks = chapter_marks(job.chapters, alignment.voice_segments, _duration_s(held, fmt))
        if job.loudness is not None:  # leveled first: encoding again drops the tags
            leveled = Path(folder) / f"leveled.{extension(fmt)}"
            source = held
            report = normalise(
                lambda: file_frames(source, fmt), fmt, leveled, job.loudness, ctx.heartbeat
            )
            ctx.store_loudness(report)
            held = leveled
        if is_tagged(fmt):
            write_chapters(held, fmt, marks)
        ctx.store_audio_file(held, fmt)
    store_timestamps(alignment, ctx, marks)


def _timed(
    job: DialogueJob,
    ctx: RenderContext,
    body: dict[str, Any],
    store_whole: Callable[[Iterable[bytes], ApiAnswer], None],
) -> Alignment:
    """Call the with-timestamps endpoint, hand its audio to ``store_whole``, return the
    alignment gathered from the answer."""
    alignment = Alignment()
    client, fmt, max_json_bytes = ctx.client, job.output_format, ctx.limits.max_json_bytes
    if job.stream:
        with client.text_to_dialogue_stream_with_timestamps(body, fmt) as answer:
            ctx.answered(answer)
            store_whole(_ndjson_audio(answer, alignment, max_json_bytes), answer)
    else:
        with client.text_to_dialogue_with_timestamps(body, fmt) as answer:
            ctx.answered(answer)
            chunk = answer.read_json(max_json_bytes)
            store_whole([_audio(chunk, answer)], answer)
            alignment.add(chunk)
    return alignment


def _duration_s(path: Path, output_format: str) -> float:
    if is_raw(output_format):
        return raw_duration_s(output_format, path.stat().st_size) or 0.0
    return encoded_duration_s(path, None)


def store_timestamps(
    alignment: Alignment, ctx: RenderContext, chapters: Sequence[ChapterMark] | None = None
) -> None:
    """Store ``alignment.json`` and the subtitles made from it (``subtitles.srt``, ``.vtt``); with
    ``chapters``, they go into ``alignment.json`` and ``metadata.json`` too."""
    listed = None if chapters is None else [mark.as_dict() for mark in chapters]
    ctx.store("alignment.json", [alignment.to_json(listed)], "application/json")
    if listed is not None:
        metadata = json.dumps({"chapters": listed}, indent=2).encode()
        ctx.store("metadata.json", [metadata], "application/json")
    cues = cues_from_alignment(alignment.alignment.as_dict(), alignment.voice_segments)
    ctx.store("subtitles.srt", [to_srt(cues).encode()], "application/x-subrip")
    ctx.store("subtitles.vtt", [to_vtt(cues).encode()], "text/vtt")


def _ndjson_audio(answer: ApiAnswer, alignment: Alignment, max_line_bytes: int) -> Iterator[bytes]:
    for line in answer.iter_lines(max_line_bytes):
        chunk = json_object(line, answer.request_id)
        alignment.add(chunk)
        audio = _audio(chunk, answer)
        if audio:
            yield audio


def _audio(chunk: dict[str, Any], answer: ApiAnswer) -> bytes:
    encoded = chunk.get("audio_base64") or ""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiTransportError(
            "the API sent audio_base64 that does not decode", request_id=answer.request_id
        ) from exc
