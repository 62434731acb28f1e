"""``AUDIOBATCH_TIME_ZONE``: UTC unless set, an IANA name, refused by name when unknown."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from audiobatch.cli.context import load_settings
from audiobatch.errors import ConfigError


def test_times_are_shown_in_utc_unless_a_zone_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIOBATCH_TIME_ZONE", raising=False)
    assert load_settings().zone == ZoneInfo("UTC")
    monkeypatch.setenv("AUDIOBATCH_TIME_ZONE", "Asia/Kolkata")
    assert load_settings().zone == ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize("name", ["Mars/Olympus", "CEST+2", "../etc/passwd", "", "Europe"])
def test_an_unknown_zone_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("AUDIOBATCH_TIME_ZONE", name)
    with pytest.raises(ConfigError, match="AUDIOBATCH_TIME_ZONE: unknown time zone"):
        load_settings()
