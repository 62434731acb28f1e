"""Headerless outputs made playable: raw PCM and G.711 (``ulaw``, ``alaw``) streamed as WAV.

A browser's ``<audio>`` cannot play samples without a header, so the dashboard serves them behind
a RIFF/WAVE header written from the output format's name (``pcm_16000``: 16-bit mono at
16,000 Hz; ``ulaw_8000``: 8-bit mu-law at 8,000 Hz) and the stored size, then the stored bytes
as they are. The stored object, and its download, stay the raw file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from audiobatch.elevenlabs.formats import RAW_SAMPLE_BYTES, codec, sample_rate_hz

WAV_CONTENT_TYPE = "audio/wav"
FORMAT_TAGS = {"pcm": 0x0001, "alaw": 0x0006, "ulaw": 0x0007}  # WAVE_FORMAT_* of mmreg.h
MAX_WAV_DATA_BYTES = 0xFFFFFFFF - 64  # RIFF sizes are 32-bit, the header's chunks included


def wav_size(data_bytes: int, output_format: str) -> int:
    """The bytes :func:`as_wav` sends for ``data_bytes`` of audio."""
    return len(wav_header(data_bytes, output_format)) + data_bytes + data_bytes % 2


def wav_header(data_bytes: int, output_format: str) -> bytes:
    """The RIFF/WAVE header of ``data_bytes`` of mono audio in ``output_format``. PCM gets the
    plain 16-byte ``fmt`` chunk; G.711, like every compressed format, an 18-byte one and a
    ``fact`` chunk with its sample count."""
    name = codec(output_format)
    width = RAW_SAMPLE_BYTES[name]
    rate = sample_rate_hz(output_format)
    fmt = struct.pack("<HHIIHH", FORMAT_TAGS[name], 1, rate, rate * width, width, 8 * width)
    if name == "pcm":
        chunks = [_chunk(b"fmt ", fmt)]
    else:
        samples = struct.pack("<I", data_bytes // width)
        chunks = [_chunk(b"fmt ", fmt + struct.pack("<H", 0)), _chunk(b"fact", samples)]
    data = b"data" + struct.pack("<I", data_bytes)
    riff_bytes = 4 + sum(len(c) for c in chunks) + len(data) + data_bytes + data_bytes % 2
    return b"RIFF" + struct.pack("<I", riff_bytes) + b"WAVE" + b"".join(chunks) + data


def as_wav(chunks: Iterable[bytes], data_bytes: int, output_format: str) -> Iterator[bytes]:
    """The stored samples behind their header (and the pad byte RIFF wants after an odd size)."""
    yield wav_header(data_bytes, output_format)
    yield from chunks
    if data_bytes % 2:
        yield b"\x00"


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body
