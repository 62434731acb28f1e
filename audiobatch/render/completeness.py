"""Is a dialogue answer's audio as long as its text? A generation cut short is caught here.

The rule: no model speaks faster than its ``fastest`` characters per second
(:class:`~audiobatch.elevenlabs.limits.SpeechRates`, 25 by default, settable per model), so a text
of ``n`` characters takes at least ``n / fastest`` seconds. Audio shorter than a third of that
(:data:`~audiobatch.elevenlabs.limits.TRUNCATED_BELOW`) is not fast speech but a generation that
stopped early: a :class:`TruncatedAudioError`, retried like a transient error.
The third leaves room for what a text holds but does not speak (v3's ``[laughs]`` tags, long
numbers read short) while still catching an answer that stops in its first sentences; a very
short text ("Hi.") expects a few tens of milliseconds, which any real answer exceeds.

The duration is measured on the audio as it streams into storage, before the write is finished:
raw PCM and G.711 from their size (bytes / (rate x sample width)), MP3 and Opus by reading the
packets' durations with PyAV from a temporary copy. Audio found short is therefore never stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import av

from audiobatch.elevenlabs.formats import RAW_SAMPLE_BYTES, codec, raw_duration_s
from audiobatch.errors import TruncatedAudioError, UnexpectedAnswerError


def checked_duration(
    chunks: Iterable[bytes],
    output_format: str,
    least_s: float,
    request_id: str | None,
) -> Iterator[bytes]:
    """``chunks``, passed on as they come; once they end, :class:`TruncatedAudioError` if the
    audio lasts less than ``least_s``."""
    name = codec(output_format)
    if name in RAW_SAMPLE_BYTES:
        size_bytes = 0
        for chunk in chunks:
            size_bytes += len(chunk)
            yield chunk
        duration_s = raw_duration_s(output_format, size_bytes) or 0.0
    else:
        with tempfile.TemporaryDirectory(prefix="audiobatch-len-") as folder:
            copy = Path(folder) / f"audio.{name}"
            with open(copy, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    yield chunk
            duration_s = encoded_duration_s(copy, request_id)
    if duration_s < least_s:
        raise TruncatedAudioError(
            f"the audio lasts {duration_s:.2f} s, under the {least_s:.2f} s its text needs "
            "even spoken at the fastest: the generation was cut short",
            request_id=request_id,
        )


def encoded_duration_s(path: Path, request_id: str | None) -> float:
    """The summed duration of an encoded file's audio packets; audio that cannot be read is an
    :class:`UnexpectedAnswerError`."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0] if container.streams.audio else None
            if stream is None or stream.time_base is None:
                raise UnexpectedAnswerError(
                    "the answer holds no audio stream", request_id=request_id
                )
            ticks = sum(packet.duration or 0 for packet in container.demux(stream))
            return float(ticks * stream.time_base)
    except av.error.FFmpegError as exc:
        raise UnexpectedAnswerError(
            f"the answer's audio cannot be read: {exc}", request_id=request_id
        ) from exc
