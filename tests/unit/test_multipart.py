"""The detailed-music answer is split into its JSON and its audio, without the closing boundary."""

from __future__ import annotations

import json

import pytest

from audiobatch.elevenlabs.multipart import DetailedMusic, boundary_of, read_detailed
from audiobatch.errors import AnswerTooLargeError, ApiTransportError

AUDIO = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n" + b"\x00" * 100
MAX_JSON_BYTES = 1 << 20
META = {"composition_plan": {"sections": []}, "song_metadata": {"title": "Warm"}}


def body(boundary: str = "b0und4ry", closing: bool = True, audio: bytes = AUDIO) -> bytes:
    parts = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(META)}\r\n"
        f"--{boundary}\r\nContent-Type: audio/mpeg\r\n"
        f'Content-Disposition: attachment; filename="song.mp3"\r\n\r\n'
    ).encode() + audio
    return parts + (f"\r\n--{boundary}--\r\n".encode() if closing else b"")


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 1000, 1 << 20])
def test_the_audio_part_comes_out_exactly_in_any_chunking(size: int) -> None:
    info = DetailedMusic()
    audio = b"".join(
        read_detailed(
            chunked(body(), size), "multipart/mixed; boundary=b0und4ry", info, MAX_JSON_BYTES
        )
    )
    assert audio == AUDIO
    assert info.metadata == META
    assert (info.audio_content_type, info.audio_filename) == ("audio/mpeg", "song.mp3")


def test_a_body_without_its_closing_boundary_is_refused() -> None:
    with pytest.raises(ApiTransportError, match="closing boundary"):
        b"".join(
            read_detailed(
                [body(closing=False)],
                "multipart/mixed; boundary=b0und4ry",
                DetailedMusic(),
                MAX_JSON_BYTES,
            )
        )


def test_a_body_without_an_audio_part_is_refused() -> None:
    only_json = b'--b\r\nContent-Type: application/json\r\n\r\n{"a": 1}\r\n--b--\r\n'
    with pytest.raises(ApiTransportError, match="audio part"):
        b"".join(
            read_detailed(
                [only_json], "multipart/mixed; boundary=b", DetailedMusic(), MAX_JSON_BYTES
            )
        )


def test_a_json_part_that_does_not_parse_is_refused() -> None:
    broken = body().replace(b'"composition_plan"', b"composition_plan")
    with pytest.raises(ApiTransportError, match="does not parse"):
        b"".join(
            read_detailed(
                [broken], "multipart/mixed; boundary=b0und4ry", DetailedMusic(), MAX_JSON_BYTES
            )
        )


def test_the_boundary_is_read_from_the_content_type() -> None:
    assert boundary_of('multipart/mixed; boundary="abc123"') == "abc123"
    with pytest.raises(ApiTransportError):
        boundary_of("multipart/mixed")


def test_a_json_part_beyond_its_cap_is_refused_for_good() -> None:
    with pytest.raises(AnswerTooLargeError, match="larger than 50 bytes"):
        b"".join(read_detailed([body()], "multipart/mixed; boundary=b0und4ry", DetailedMusic(), 50))
