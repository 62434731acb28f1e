"""A 200's start is judged against what was asked: error bodies, then the format's first bytes."""

from __future__ import annotations

import pytest

from audiobatch.elevenlabs.sniff import Expected, is_error_body, mismatch

MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(60)
ID3 = b"ID3\x04\x00" + bytes(60)
OGG = b"OggS\x00\x02" + bytes(60)
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(60)
ZIP = b"PK\x03\x04\x14\x00" + bytes(60)
PCM = bytes(range(256))
MULTIPART = b"--b0und\r\nContent-Type: application/json\r\n\r\n{}"
JSON_ERROR = b'{"detail": {"code": "system_busy", "message": "busy"}}'
HTML = b"\n<!DOCTYPE html><html><title>Bad Gateway</title></html>"
AUDIO_TYPES = {
    "mp3_44100_128": "audio/mpeg",
    "opus_48000_64": "audio/ogg",
    "wav_44100": "audio/wav",
    "pcm_16000": "audio/pcm",
    "ulaw_8000": "audio/basic",
}
MULTIPART_TYPE = "multipart/mixed; boundary=b0und"


@pytest.mark.parametrize(
    ("expected", "content_type", "head"),
    [
        (Expected.audio("mp3_44100_128"), "audio/mpeg", MP3_FRAME),
        (Expected.audio(None), "audio/mpeg", ID3),
        (Expected.audio("auto"), "audio/mpeg", ID3),
        (Expected.audio("opus_48000_64"), "audio/ogg", OGG),
        (Expected.audio("wav_44100"), "audio/wav", WAV),
        (Expected.audio("pcm_16000"), "audio/pcm", PCM),
        (Expected.audio("pcm_16000"), "application/octet-stream", b'{"' + PCM),  # 0x227B
        (Expected.audio("alaw_8000"), "audio/x-alaw-basic", b"\xd5" * 64),
        (Expected("zip"), "application/zip", ZIP),
        (Expected("multipart"), MULTIPART_TYPE, MULTIPART),
        (Expected("json"), "application/json", b'{"audio_base64": "SUQz"}'),
        (Expected("ndjson"), "application/json", b'\n{"audio_base64": ""}\n'),
    ],
)
def test_what_was_asked_passes(expected: Expected, content_type: str, head: bytes) -> None:
    assert not is_error_body(expected, content_type, head)
    assert mismatch(expected, content_type, head) is None


@pytest.mark.parametrize(
    "expected",
    [
        *(Expected.audio(name) for name in AUDIO_TYPES),
        Expected("zip"),
        Expected("multipart"),
        Expected("json"),
        Expected("ndjson"),
    ],
)
@pytest.mark.parametrize(
    ("content_type", "head"),
    [
        ("application/json", JSON_ERROR),
        ("audio/mpeg", JSON_ERROR),  # whatever the type says
        ("text/html; charset=utf-8", HTML),
        ("audio/mpeg", HTML),
    ],
)
def test_an_error_body_is_told_whatever_was_asked(
    expected: Expected, content_type: str, head: bytes
) -> None:
    assert is_error_body(expected, content_type, head)


@pytest.mark.parametrize(
    ("expected", "content_type", "head", "problem"),
    [
        (Expected.audio("mp3_44100_128"), "audio/mpeg", OGG, "where mp3_44100_128 was asked"),
        (Expected.audio("mp3_44100_128"), "audio/mpeg", b"", "an empty body"),
        (Expected.audio("opus_48000_64"), "audio/ogg", ID3, "where opus_48000_64 was asked"),
        (Expected.audio("wav_44100"), "audio/wav", b"RIFF\x00\x00\x00\x00AVI ", "wav_44100"),
        (Expected.audio("pcm_16000"), "audio/pcm", b"", "an empty body"),
        (Expected("zip"), "application/zip", ID3, "where ZIP was asked"),
        (Expected("multipart"), "audio/mpeg", MULTIPART, "where multipart/mixed was asked"),
        (Expected("multipart"), MULTIPART_TYPE, ID3, "does not start with its boundary"),
        (Expected("json"), "audio/mpeg", ID3, "audio/mpeg where JSON was asked"),
        (Expected("ndjson"), "application/json", ID3, "where NDJSON was asked"),
    ],
)
def test_another_format_than_asked_is_named(
    expected: Expected, content_type: str, head: bytes, problem: str
) -> None:
    assert not is_error_body(expected, content_type, head)
    assert problem in (mismatch(expected, content_type, head) or "")
