"""The emulator over real HTTP answers as the API does; the official SDK cannot tell it apart."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator

import av
import httpx
import pytest

from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread

KEY = "emulator-test-key"
HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"
BODY = {
    "inputs": [
        {"text": "Knock knock.", "voice_id": HOST},
        {"text": "Who is there?", "voice_id": GUEST},
    ]
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=2, api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=2, latency_ms=400)) as running:
        yield running


def post(
    emulator: RunningEmulator,
    path: str = "",
    body: object = BODY,
    key: str | None = KEY,
    **params: str,
) -> httpx.Response:
    headers = {"xi-api-key": key} if key else {}
    return httpx.post(
        f"{emulator.url}/v1/text-to-dialogue{path}",
        json=body,
        headers=headers,
        params=params,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [
        ("mp3_44100_128", "mp3", 44100),
        ("mp3_22050_32", "mp3", 22050),
        ("opus_48000_64", "opus", 48000),
    ],
)
def test_compressed_formats_decode_at_their_rate(
    emulator: RunningEmulator, fmt: str, codec: str, rate: int
) -> None:
    answer = post(emulator, output_format=fmt)
    assert answer.status_code == 200
    with av.open(io.BytesIO(answer.content)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith(codec) and stream.rate == rate
        assert sum(f.samples for f in container.decode(stream)) / rate == pytest.approx(
            2.0, abs=0.05
        )


@pytest.mark.parametrize(
    ("fmt", "bytes_per_second"),
    [("pcm_16000", 32000), ("pcm_44100", 88200), ("ulaw_8000", 8000), ("alaw_8000", 8000)],
)
def test_raw_formats_have_the_length_of_their_duration(
    emulator: RunningEmulator, fmt: str, bytes_per_second: int
) -> None:
    answer = post(emulator, output_format=fmt)
    assert len(answer.content) == 2 * bytes_per_second


def test_the_same_request_gets_the_same_bytes_and_the_success_headers(
    emulator: RunningEmulator,
) -> None:
    first, second = post(emulator), post(emulator)
    assert first.content == second.content
    assert first.headers["content-type"] == "audio/mpeg"
    assert int(first.headers["content-length"]) == len(first.content)
    assert first.headers["character-cost"] == str(len("Knock knock.Who is there?"))
    assert first.headers["maximum-concurrent-requests"] == "2"
    assert first.headers["request-id"] != second.headers["request-id"]
    for name in ("history-item-id", "current-concurrent-requests"):
        assert name in first.headers


def test_a_missing_or_unknown_key_is_a_401_in_the_current_shape(emulator: RunningEmulator) -> None:
    missing, unknown = post(emulator, key=None), post(emulator, key="nope")
    assert (missing.status_code, missing.json()["detail"]["code"]) == (401, "missing_api_key")
    detail = unknown.json()["detail"]
    assert unknown.status_code == 401
    assert {detail["code"], detail["status"], detail["type"]} == {
        "invalid_api_key",
        "authentication_error",
    }
    assert detail["request_id"] and "x-trace-id" in unknown.headers


def test_an_invalid_body_is_a_pydantic_style_422(emulator: RunningEmulator) -> None:
    answer = post(emulator, body={"inputs": [{"text": "hi"}]})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "inputs", 0, "voice_id"] and error["type"] == "missing"
    bad_format = post(emulator, output_format="wav_99")
    assert bad_format.status_code == 422
    assert bad_format.json()["detail"][0]["loc"] == ["query", "output_format"]


def test_limits_and_unknown_voices_are_answered_like_the_api(emulator: RunningEmulator) -> None:
    long = post(emulator, body={"inputs": [{"text": "a" * 5001, "voice_id": HOST}]})
    assert (long.status_code, long.json()["detail"]["code"]) == (400, "text_too_long")
    voices = [f"Voice{n:015d}" for n in range(11)]
    many = post(emulator, body={"inputs": [{"text": "hi", "voice_id": v} for v in voices]})
    assert (many.status_code, many.json()["detail"]["code"]) == (400, "too_many_voices")
    unknown = post(emulator, body={"inputs": [{"text": "hi", "voice_id": "foo"}]})
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["message"] == "A voice with the voice_id foo was not found."


def test_requests_over_the_keys_concurrency_get_429(slow_emulator: RunningEmulator) -> None:
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(slow_emulator, key="k1")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 429, 429]
    limited = next(a for a in answers if a.status_code == 429).json()["detail"]
    assert (limited["code"], limited["status"]) == (
        "concurrent_limit_exceeded",
        "too_many_concurrent_requests",
    )
    assert post(slow_emulator, key="k2").status_code == 200  # another key has its own limit
    stats = httpx.get(f"{slow_emulator.url}/_emulator/stats").json()
    assert stats["too_many_concurrent"] >= 2


def test_timestamps_match_the_audio(emulator: RunningEmulator) -> None:
    answer = post(emulator, "/with-timestamps", output_format="pcm_16000").json()
    audio = base64.b64decode(answer["audio_base64"])
    ends = answer["alignment"]["character_end_times_seconds"]
    assert "".join(answer["alignment"]["characters"]) == "Knock knock.Who is there?"
    assert ends[-1] == pytest.approx(len(audio) / 32000)
    assert [s["voice_id"] for s in answer["voice_segments"]] == [HOST, GUEST]
    assert answer["voice_segments"][1]["character_start_index"] == len("Knock knock.")


def test_the_timestamp_stream_is_one_json_object_per_line_and_adds_up(
    emulator: RunningEmulator,
) -> None:
    streamed = post(emulator, "/stream/with-timestamps")
    assert streamed.headers["content-type"].startswith("application/json")
    lines = [json.loads(line) for line in streamed.text.splitlines() if line]
    assert len(lines) == 2
    whole = post(emulator, "/with-timestamps").json()
    assert b"".join(base64.b64decode(line["audio_base64"]) for line in lines) == base64.b64decode(
        whole["audio_base64"]
    )
    characters = [c for line in lines for c in line["alignment"]["characters"]]
    assert characters == whole["alignment"]["characters"]


def test_the_ledger_records_what_was_served(emulator: RunningEmulator) -> None:
    import hashlib

    answer = post(emulator, output_format="ulaw_8000")
    entry = next(
        e
        for e in httpx.get(f"{emulator.url}/_emulator/ledger").json()
        if e["request_id"] == answer.headers["request-id"]
    )
    assert entry["sha256"] == hashlib.sha256(answer.content).hexdigest()
    assert KEY not in json.dumps(entry)


def test_the_official_sdk_reads_every_dialogue_endpoint(emulator: RunningEmulator) -> None:
    from elevenlabs import DialogueInput, ElevenLabs

    client = ElevenLabs(api_key=KEY, base_url=emulator.url)
    inputs = [
        DialogueInput(text="Knock knock.", voice_id=HOST),
        DialogueInput(text="Who is there?", voice_id=GUEST),
    ]
    audio = b"".join(client.text_to_dialogue.convert(inputs=inputs))
    assert audio == post(emulator).content
    assert b"".join(client.text_to_dialogue.stream(inputs=inputs)) == audio
    timed = client.text_to_dialogue.convert_with_timestamps(inputs=inputs)
    assert base64.b64decode(timed.audio_base_64) == audio
    assert timed.alignment is not None and timed.alignment.characters[0] == "K"
    assert [s.voice_id for s in timed.voice_segments] == [HOST, GUEST]
    chunks = list(client.text_to_dialogue.stream_with_timestamps(inputs=inputs))
    assert b"".join(base64.b64decode(c.audio_base_64) for c in chunks) == audio


def test_the_short_fault_serves_valid_audio_of_a_tenth_of_the_text_as_a_normal_200() -> None:
    text = "A line of fifty characters, give or take a couple."
    body = {"inputs": [{"text": text, "voice_id": HOST}]}
    with serve_in_thread(EmulatorConfig(fault_rate=1.0, faults=("short",))) as short:
        answer = post(short, "/with-timestamps", body=body, key="k")
    assert answer.status_code == 200
    assert answer.headers["character-cost"] == str(len(text))  # billed in full
    spoken = answer.json()
    assert "".join(spoken["alignment"]["characters"]) == text[: len(text) // 10]
    audio = base64.b64decode(spoken["audio_base64"])
    with av.open(io.BytesIO(audio)) as container:
        assert container.duration is not None
        assert (
            container.duration / 1e6 < spoken["alignment"]["character_end_times_seconds"][-1] + 0.1
        )
