"""The answer spool against the emulator: a store that fails mid-upload costs no second
generation, and only a whole answer is ever replayed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.elevenlabs.sniff import Expected
from audiobatch.elevenlabs.spool import AnswerSpool
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.errors import ApiTransportError, StorageUnavailableError

HOST = "JBFqnCBsd6RMkjVDRZzb"
BODY = {"inputs": [{"voice_id": HOST, "text": "A line long enough for many chunks. " * 20}]}


def upload_first_chunk_then_fail(client: ElevenLabsClient) -> None:
    """What a store that goes away after the first part of a long upload does to a render."""
    with client.text_to_dialogue(BODY, "pcm_44100") as answer:
        next(answer.iter_bytes(chunk_bytes=1024))
        raise StorageUnavailableError("the store went away mid-upload")


def test_an_answer_whose_upload_failed_midway_is_spooled_whole(tmp_path: Path) -> None:
    spool = AnswerSpool(tmp_path / "spool")
    with serve_in_thread(EmulatorConfig()) as emulator:
        client = ElevenLabsClient(emulator.url, "key")
        with pytest.raises(StorageUnavailableError):
            upload_first_chunk_then_fail(client.spooled(spool))
        [served] = httpx.get(f"{emulator.url}/_emulator/ledger").json()
    replayed = spool.replay(Expected.audio("pcm_44100"))
    assert replayed is not None
    with replayed as answer:
        assert hashlib.sha256(b"".join(answer.iter_bytes())).hexdigest() == served["sha256"]


def test_an_answer_cut_short_by_the_api_is_never_replayed(tmp_path: Path) -> None:
    spool = AnswerSpool(tmp_path / "spool")
    config = EmulatorConfig(fault_rate=1.0, faults=("truncate",))
    with serve_in_thread(config) as emulator:
        client = ElevenLabsClient(emulator.url, "key")
        with pytest.raises((StorageUnavailableError, ApiTransportError)):
            upload_first_chunk_then_fail(client.spooled(spool))
    assert spool.replay(Expected.audio("pcm_44100")) is None
