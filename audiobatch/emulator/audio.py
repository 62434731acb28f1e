"""Deterministic, speech-like audio: one timbre per voice, one short sound per character.

The synthesis plan (which character sounds when) is also the alignment the API returns, so the
timestamps always match the audio.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import av
import numpy as np

SYNTH_RATE_HZ = 48_000
CHAR_S = 0.07  # about 14 characters a second
PAUSE_S = 0.25  # between two turns
FEED_SAMPLES = 1 << 16  # samples handed to the encoder at once
SILENT = frozenset(" \t\n.,;:!?-—…'\"()")


@dataclass(frozen=True)
class Turn:
    voice_id: str
    text: str


@dataclass(frozen=True)
class Plan:
    """Every character's start and end, and where each turn begins and ends."""

    characters: list[str]
    starts_s: list[float]
    ends_s: list[float]
    turns: list[tuple[int, int, float, float]]  # char start, char end, time start, time end
    duration_s: float


def plan(turns: list[Turn]) -> Plan:
    chars: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    spans: list[tuple[int, int, float, float]] = []
    t = 0.0
    for n, turn in enumerate(turns):
        if n:
            t += PAUSE_S
        first, begin = len(chars), t
        for ch in turn.text:
            chars.append(ch)
            starts.append(round(t, 3))
            t += CHAR_S
            ends.append(round(t, 3))
        spans.append((first, len(chars), round(begin, 3), round(t, 3)))
    return Plan(chars, starts, ends, spans, round(t, 3))


def voice_pitch_hz(voice_id: str) -> float:
    return 90.0 + hashlib.sha256(voice_id.encode()).digest()[0] / 255 * 160.0


def synthesize(turns: list[Turn], layout: Plan, rate_hz: int) -> np.ndarray:
    """Mono float32 samples at ``rate_hz`` following ``layout``."""
    total = round(layout.duration_s * rate_hz)
    out = np.zeros(total, dtype=np.float32)
    char_samples = round(CHAR_S * rate_hz)
    envelope = np.hanning(char_samples).astype(np.float32)
    time = np.arange(char_samples, dtype=np.float32) / rate_hz
    for (first, last, _, _), turn in zip(layout.turns, turns, strict=True):
        pitch = voice_pitch_hz(turn.voice_id)
        for i in range(first, last):
            ch = layout.characters[i]
            if ch in SILENT:
                continue
            formant = 300.0 + (ord(ch.lower()) % 32) * 55.0
            wave = 0.5 * np.sin(2 * np.pi * pitch * time) + 0.3 * np.sin(2 * np.pi * formant * time)
            start = round(layout.starts_s[i] * rate_hz)
            segment = (wave * envelope)[: max(0, min(char_samples, total - start))]
            out[start : start + len(segment)] += segment
    clipped: np.ndarray = np.clip(out * 0.6, -1.0, 1.0)
    return clipped


@dataclass(frozen=True)
class OutputFormat:
    """An output_format value: codec, sample rate and (for mp3 and opus) bitrate."""

    name: str
    codec: str
    rate_hz: int
    bitrate_kbps: int | None

    @classmethod
    def parse(cls, name: str) -> OutputFormat:
        parts = name.split("_")
        bitrate = int(parts[2]) if len(parts) > 2 else None
        return cls(name, parts[0], int(parts[1]), bitrate)

    @property
    def content_type(self) -> str:
        return {
            "mp3": "audio/mpeg",
            "pcm": "audio/pcm",
            "ulaw": "audio/basic",
            "alaw": "audio/x-alaw-basic",
            "opus": "audio/ogg",
        }[self.codec]


def encode(samples: np.ndarray, fmt: OutputFormat) -> bytes:
    """The samples in the wire format the API sends for ``fmt``."""
    if fmt.codec == "pcm":
        return (samples * 32767).astype("<i2").tobytes()
    container_format, codec = {
        "mp3": ("mp3", "libmp3lame"),
        "opus": ("ogg", "libopus"),
        "ulaw": ("mulaw", "pcm_mulaw"),
        "alaw": ("alaw", "pcm_alaw"),
    }[fmt.codec]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format, options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec, rate=fmt.rate_hz, layout="mono")
        assert isinstance(stream, av.AudioStream)
        if fmt.bitrate_kbps:
            stream.bit_rate = fmt.bitrate_kbps * 1000
        context = stream.codec_context
        sample_format = (
            "s16" if codec.startswith("pcm") or context.format is None else context.format.name
        )
        # the samples in the encoder's own format once: the encoder then only cuts them into
        # its frames (a resampler per frame would cost most of the encoding time)
        samples_in = _as_format((samples * 32767).astype(np.int16), sample_format)
        for start in range(0, len(samples_in), FEED_SAMPLES):
            chunk = samples_in[start : start + FEED_SAMPLES]
            frame = av.AudioFrame.from_ndarray(
                chunk.reshape(1, -1), format=sample_format, layout="mono"
            )
            frame.sample_rate = fmt.rate_hz
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _as_format(pcm16: np.ndarray, sample_format: str) -> np.ndarray:
    """16-bit samples in the encoder's sample format, converted as FFmpeg's resampler does."""
    if sample_format == "s16":
        return pcm16
    if sample_format == "s32p":  # libmp3lame's
        shifted: np.ndarray = pcm16.astype(np.int32) << 16
        return shifted
    raise ValueError(f"no conversion of 16-bit samples to {sample_format!r}")


def render(turns: list[Turn], fmt: OutputFormat) -> tuple[bytes, Plan]:
    layout = plan(turns)
    return encode(synthesize(turns, layout, fmt.rate_hz), fmt), layout
