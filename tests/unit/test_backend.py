"""Which backend a request goes to: what its fingerprint names and what a batch records."""

from __future__ import annotations

from audiobatch.backend import EMBEDDED_EMULATOR_KEY, Backend


def test_the_built_in_emulator_is_one_backend_whatever_its_port() -> None:
    first = Backend.of("http://127.0.0.1:40001", EMBEDDED_EMULATOR_KEY)
    assert first == Backend.of("http://127.0.0.1:40002/", EMBEDDED_EMULATOR_KEY)
    assert first.api_url == "emulator"


def test_another_url_or_key_is_another_backend_and_the_key_never_shows() -> None:
    real = Backend.of("https://api.elevenlabs.io", "sk_live_secret")
    assert real == Backend.of("https://api.elevenlabs.io/", "sk_live_secret")
    assert real != Backend.of("https://api.elevenlabs.io", "sk_live_other")
    assert real != Backend.of("http://127.0.0.1:8765", "sk_live_secret")
    assert real != Backend.of("https://api.elevenlabs.io", EMBEDDED_EMULATOR_KEY)
    assert "sk_live_secret" not in repr(real) and len(real.account) == 16


def test_a_batch_is_labelled_emulator_when_the_answer_says_so_else_with_the_url() -> None:
    real = Backend.of("https://api.elevenlabs.io", "sk_live_secret")
    assert real.label(emulator_answered=False) == "https://api.elevenlabs.io"
    assert real.label(emulator_answered=True) == "emulator"
    assert Backend.of("http://127.0.0.1:1", EMBEDDED_EMULATOR_KEY).label(False) == "emulator"
