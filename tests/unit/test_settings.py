"""Settings read the environment once, derive the embedded defaults, and never show the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.cli.context import load_settings
from audiobatch.config import Settings
from audiobatch.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("AUDIOBATCH_", "ELEVENLABS_")):
            monkeypatch.delenv(name)


def test_embedded_defaults_need_nothing_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOBATCH_HOME", str(tmp_path))
    settings = Settings()
    assert settings.api_key is None
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'state.db'}"
    assert settings.resolved_broker_url == "filesystem://"
    assert settings.resolved_redis_url is None
    assert settings.is_embedded_database


def test_a_redis_broker_is_also_the_limiter_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOBATCH_BROKER_URL", "redis://r:6379/0")
    assert Settings().resolved_redis_url == "redis://r:6379/0"
    monkeypatch.setenv("AUDIOBATCH_BROKER_URL", "amqp://guest@rabbit//")
    assert Settings().resolved_redis_url is None


def test_the_api_key_never_shows_in_repr_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_live_secret")
    settings = Settings()
    assert "sk_live_secret" not in repr(settings)
    assert "sk_live_secret" not in settings.model_dump_json()
    assert settings.api_key_hash and "sk_live_secret" not in settings.api_key_hash


def test_a_blank_api_key_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "  ")
    assert Settings().api_key is None


def test_a_malformed_variable_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOBATCH_API_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="api_concurrency"):
        load_settings()


def test_a_variable_a_validator_refuses_is_told_in_its_own_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDIOBATCH_WEBHOOK_URL", "bad")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (
        "invalid settings: webhook_url: webhook URL 'bad' must start with http:// or https://"
    )


def test_attempts_per_kind_are_read_as_json_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOBATCH_MAX_ATTEMPTS_BY_KIND", '{"music": 2, "stems": 3}')
    assert load_settings().max_attempts_by_kind == {"music": 2, "stems": 3}
    monkeypatch.setenv("AUDIOBATCH_MAX_ATTEMPTS_BY_KIND", '{"musik": 2}')
    with pytest.raises(
        ConfigError, match=r"unknown job kind\(s\) musik \(did you mean 'music'\?\)"
    ):
        load_settings()
    monkeypatch.setenv("AUDIOBATCH_MAX_ATTEMPTS_BY_KIND", '{"music": 0}')
    with pytest.raises(ConfigError, match="at least 1"):
        load_settings()


def test_answer_caps_and_speech_rates_are_read_and_handed_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDIOBATCH_STEMS_MAX_ENTRY_BYTES", "1000")
    monkeypatch.setenv("AUDIOBATCH_STEMS_MAX_RATIO", "50")
    monkeypatch.setenv("AUDIOBATCH_MAX_JSON_ANSWER_BYTES", "4096")
    monkeypatch.setenv("AUDIOBATCH_FASTEST_SPEECH_CPS_BY_MODEL", '{"eleven_flash_v2_5": 30}')
    settings = Settings()
    limits = settings.answer_limits
    assert (limits.max_stem_bytes, limits.max_stem_ratio, limits.max_json_bytes) == (1000, 50, 4096)
    rates = settings.speech_rates
    assert rates.least_duration_s("eleven_flash_v2_5", 90) == pytest.approx(1.0)  # 90 / 30 / 3
    assert rates.least_duration_s("eleven_v3", 75) == pytest.approx(1.0)  # 75 / 25 / 3


def test_a_speech_rate_must_be_above_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOBATCH_FASTEST_SPEECH_CPS_BY_MODEL", '{"eleven_v3": 0}')
    with pytest.raises(ConfigError, match=r"must be above 0 \(for eleven_v3\)"):
        load_settings()


def test_dashboard_hosts_and_proxies_are_read_as_comma_separated_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().dashboard_allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]
    assert Settings().dashboard_trusted_proxies == []
    monkeypatch.setenv("AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS", "Dash.Example, localhost")
    monkeypatch.setenv("AUDIOBATCH_DASHBOARD_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    settings = Settings()
    assert settings.dashboard_allowed_hosts == ["dash.example", "localhost"]
    assert settings.dashboard_trusted_proxies == ["10.0.0.0/8"]
