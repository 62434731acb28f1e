"""Answers that trickle in over real HTTP: a small JSON answer is cut off at its deadline, an audio
one once it has fallen below its floor for a window, each as a transport error that says how
slow it was; an answer that keeps pace is read whole."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from audiobatch.elevenlabs.account import read_subscription
from audiobatch.elevenlabs.client import ElevenLabsClient, Timeouts
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.errors import ApiBusyError, ApiTransportError
from tests.hostile_api import Canned, HostileApi

# small enough that a trickle is cut off within seconds; the defaults are the same rules
QUICK = Timeouts(json_answer_s=1.0, min_audio_bytes_per_s=1000, audio_window_s=1.0)
SUBSCRIPTION = json.dumps(
    {"tier": "creator", "character_count": 5, "character_limit": 10, "next_reset": None}
).encode()
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(8000)
DIALOGUE = {"inputs": [{"text": "hello there", "voice_id": "JBFqnCBsd6RMkjVDRZzb"}]}


def read_plan(client: ElevenLabsClient) -> object:
    with client.music_plan({"prompt": "calm"}) as answer:
        return answer.read_json(1 << 20)


def read_audio(client: ElevenLabsClient) -> bytes:
    with client.text_to_dialogue(DIALOGUE, "mp3_44100_128") as answer:
        return b"".join(answer.iter_bytes())


def answered(canned: Canned, read: Callable[[ElevenLabsClient], object]) -> object:
    """What ``read`` makes of ``canned``, served over HTTP to a client with QUICK timeouts."""
    with HostileApi(canned) as api:
        client = ElevenLabsClient(api.url, "key", timeouts=QUICK)
        try:
            return read(client)
        finally:
            client.close()


@pytest.mark.parametrize(
    ("body", "read"),
    [(SUBSCRIPTION, read_subscription), (b'{"chunks": []}' + b" " * 200, read_plan)],
)
def test_a_json_answer_trickling_past_its_deadline_is_a_transport_error_that_says_so(
    body: bytes, read: Callable[[ElevenLabsClient], object]
) -> None:
    with pytest.raises(ApiTransportError, match=r"the API sent \d+ bytes in [\d.]+ s") as raised:
        answered(Canned(body, "application/json").trickled(1, 0.1), read)
    assert "slower than the 1 s a whole answer may take" in str(raised.value)
    assert raised.value.request_id == "hostile-request"


def test_audio_trickling_below_its_floor_is_a_transport_error_that_says_so() -> None:
    # 200 bytes a second: a fifth of the floor, and far under any format's real-time rate
    with pytest.raises(ApiTransportError, match="slower than 1000 bytes/s") as raised:
        answered(Canned(MP3, "audio/mpeg").trickled(20, 0.1), read_audio)
    assert str(raised.value).startswith("the API sent ")


def test_a_trickle_shorter_than_the_answers_first_check_is_still_cut_off() -> None:
    # a byte at a time never fills the bytes the format check waits for, nor a 64 KiB chunk
    with pytest.raises(ApiTransportError, match="slower than 1000 bytes/s"):
        answered(Canned(MP3, "audio/mpeg").trickled(1, 0.05), read_audio)


def test_an_error_answer_trickling_in_still_ends_as_the_error_of_its_status() -> None:
    body = b'{"detail":{"status":"system_busy","message":"Busy"}}' + b" " * 500
    with pytest.raises(ApiBusyError):
        answered(Canned(body, "application/json", 429).trickled(1, 0.1), read_subscription)


def test_an_answer_in_pieces_that_keeps_pace_is_read_whole() -> None:
    # 4000 bytes a second in small pieces, for more than two windows
    assert answered(Canned(MP3, "audio/mpeg").trickled(400, 0.1), read_audio) == MP3
    plan = answered(Canned(SUBSCRIPTION, "application/json").trickled(10, 0.01), read_plan)
    assert plan == json.loads(SUBSCRIPTION)


def test_a_plan_whose_generation_outlasts_the_deadline_is_read_once_it_comes() -> None:
    # the emulator sends its headers at once and the body when generated: the deadline starts
    # at the first byte
    with serve_in_thread(EmulatorConfig(latency_ms=2000)) as emulator:
        client = ElevenLabsClient(emulator.url, "key", timeouts=QUICK)
        try:
            plan = read_plan(client)
        finally:
            client.close()
    assert isinstance(plan, dict) and plan
