"""Joining the audio of an episode's parts into one file, sample-exactly and streaming.

Raw formats are joined byte for byte: ``pcm`` (signed 16-bit little-endian), ``ulaw`` and
``alaw`` (one byte a sample). MP3 and Opus are decoded part after part and encoded once into the
episode's file: a decoded frame is handed to the encoder as it comes, so memory holds a few frames
and never the episode. The decoder drops each part's encoder delay and padding where the file
says how much there is (the LAME header of an MP3, the pre-skip and end of an Ogg Opus stream),
so the episode lasts exactly as long as its parts. A pause between two parts is silence of the
output format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from audiobatch.elevenlabs.formats import RAW_SAMPLE_BYTES, codec, sample_rate_hz
from audiobatch.errors import SourceError

_SILENCE = {"pcm": b"\x00\x00", "ulaw": b"\xff", "alaw": b"\xd5"}  # a sample of zero amplitude
_ENCODERS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus")}  # container, encoder


@dataclass
class Timeline:
    """Where each part lies in the episode, in samples at ``rate_hz``; filled as parts join."""

    rate_hz: int
    pause_samples: int
    part_samples: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, output_format: str, pause_ms: int) -> Timeline:
        rate = sample_rate_hz(output_format)
        return cls(rate, round(pause_ms * rate / 1000))

    def duration_s(self) -> float:
        """How long the parts joined so far last, with the pauses between them."""
        pauses = max(len(self.part_samples) - 1, 0) * self.pause_samples
        return (sum(self.part_samples) + pauses) / self.rate_hz

    def starts_s(self) -> list[float]:
        """The time at which each part begins in the episode."""
        starts, at = [], 0
        for samples in self.part_samples:
            starts.append(at / self.rate_hz)
            at += samples + self.pause_samples
        return starts


def join_raw(
    parts: Iterable[Iterable[bytes]], output_format: str, timeline: Timeline
) -> Iterator[bytes]:
    """The parts' bytes one after the other, with the pause between two; each part's length is
    noted in ``timeline`` once its bytes have passed."""
    name = codec(output_format)
    width = RAW_SAMPLE_BYTES[name]
    silence = _SILENCE[name] * timeline.pause_samples
    for number, chunks in enumerate(parts):
        if number and silence:
            yield silence
        size = 0
        for chunk in chunks:
            size += len(chunk)
            yield chunk
        if size % width:
            raise SourceError(f"part {number + 1} ends in the middle of a {name} sample")
        timeline.part_samples.append(size // width)


def join_encoded(
    parts: Iterable[Path], output_format: str, timeline: Timeline, target: Path
) -> None:
    """Decode the part files in turn and encode them, with the pauses, into ``target``."""
    encode_frames(joined_frames(parts, timeline), output_format, target)


def joined_frames(parts: Iterable[Path], timeline: Timeline) -> Iterator[av.AudioFrame]:
    """The decoded frames of the part files in turn, with the pauses between two; each part's
    length is noted in ``timeline`` once its frames have passed."""
    like = None  # the last decoded frame, the model of the pauses
    for number, path in enumerate(parts):
        if number and timeline.pause_samples and like is not None:
            yield _silence(like, timeline.pause_samples)
        samples = 0
        for frame in _decoded(path, number + 1):
            samples += frame.samples
            like = frame
            yield frame
        timeline.part_samples.append(samples)


def encode_frames(frames: Iterable[av.AudioFrame], output_format: str, target: Path) -> None:
    """Encode decoded mono frames, as they come, into ``target`` in ``output_format``."""
    container_format, encoder = _ENCODERS[codec(output_format)]
    bitrate_kbps = int(output_format.split("_")[2])
    rate = sample_rate_hz(output_format)
    with av.open(str(target), "w", format=container_format) as out:
        stream = out.add_stream(encoder, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bitrate_kbps * 1000
        at = 0
        for frame in frames:
            frame.pts, frame.time_base = at, Fraction(1, rate)
            at += frame.samples
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _decoded(path: Path, number: int) -> Iterator[av.AudioFrame]:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise SourceError(f"part {number} holds no audio stream")
            yield from container.decode(audio=0)
    except av.error.FFmpegError as exc:
        raise SourceError(f"part {number} cannot be decoded: {exc}") from exc


def _silence(like: av.AudioFrame, samples: int) -> av.AudioFrame:
    """``samples`` of silence shaped like the decoded frame ``like`` (the encoder takes one
    sample format, rate and layout throughout)."""
    frame = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = like.sample_rate
    return frame
