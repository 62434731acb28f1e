"""The emulator's own answers, in every output format, pass every check on what an answer is:
its start fits what was asked, and dialogue audio lasts as long as its text needs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from audiobatch.elevenlabs.client import ElevenLabsClient, Upload
from audiobatch.elevenlabs.formats import DIALOGUE_FORMATS, MUSIC_FORMATS, sorted_formats
from audiobatch.elevenlabs.limits import AnswerLimits, SpeechRates
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.render.completeness import checked_duration

HOST = "JBFqnCBsd6RMkjVDRZzb"
GUEST = "Aw4FAjKCGjjNkVhN1Xmq"
SONG = Path(__file__).resolve().parents[2] / "manifests/audio/line-01.mp3"
LIMITS = AnswerLimits()


@pytest.fixture(scope="module")
def client() -> Iterator[ElevenLabsClient]:
    with serve_in_thread(EmulatorConfig(concurrency=4, music_concurrency=4)) as emulator:
        api = ElevenLabsClient(emulator.url, "key")
        yield api
        api.close()


def dialogue_body(*texts: str) -> dict[str, object]:
    voices = (HOST, GUEST)
    return {"inputs": [{"text": t, "voice_id": voices[n % 2]} for n, t in enumerate(texts)]}


@pytest.mark.parametrize("output_format", sorted_formats(DIALOGUE_FORMATS))
@pytest.mark.parametrize(
    "texts", [("Hi.",), ("Knock knock.", "Who is there?", "A long pause, then: nobody.")]
)
def test_dialogue_audio_in_every_format_passes_the_checks(
    client: ElevenLabsClient, output_format: str, texts: tuple[str, ...]
) -> None:
    least_s = SpeechRates().least_duration_s("eleven_v3", sum(len(t) for t in texts))
    with client.text_to_dialogue(dialogue_body(*texts), output_format) as answer:
        audio = b"".join(checked_duration(answer.iter_bytes(), output_format, least_s, None))
    assert audio


@pytest.mark.parametrize("output_format", ["mp3_44100_128", "pcm_16000", "opus_48000_32"])
def test_dialogue_with_timestamps_passes_the_checks(
    client: ElevenLabsClient, output_format: str
) -> None:
    body = dialogue_body("Hi.", "Hello.")
    with client.text_to_dialogue_with_timestamps(body, output_format) as answer:
        assert "audio_base64" in answer.read_json(LIMITS.max_json_bytes)
    with client.text_to_dialogue_stream_with_timestamps(body, output_format) as answer:
        assert len(list(answer.iter_lines(LIMITS.max_json_bytes))) == 2


@pytest.mark.parametrize("output_format", sorted_formats(MUSIC_FORMATS))
def test_music_in_every_format_passes_the_checks(
    client: ElevenLabsClient, output_format: str
) -> None:
    body = {"prompt": "calm piano", "music_length_ms": 3000}
    with client.music(body, output_format) as answer:
        assert b"".join(answer.iter_bytes())


def test_detailed_music_a_plan_stems_and_a_voice_change_pass_the_checks(
    client: ElevenLabsClient,
) -> None:
    with client.music_detailed({"prompt": "calm", "music_length_ms": 3000}, None) as answer:
        assert b"".join(answer.iter_bytes()).startswith(b"--")
    with client.music_plan({"prompt": "calm piano"}) as answer:
        assert "sections" in answer.read_json(LIMITS.max_json_bytes)
    with (
        SONG.open("rb") as song,
        client.stem_separation(Upload("s.mp3", song), "pcm_16000") as answer,
    ):
        names = zipfile.ZipFile(io.BytesIO(b"".join(answer.iter_bytes()))).namelist()
    assert "vocals.pcm" in names
    with (
        SONG.open("rb") as song,
        client.speech_to_speech(HOST, Upload("s.mp3", song), "ulaw_8000", {}) as answer,
    ):
        assert b"".join(answer.iter_bytes())
