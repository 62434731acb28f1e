"""``AUDIOBATCH_TIME_ZONE`` as a user sets it: an unknown name stops a command before it does
anything, saying which setting is wrong and what to use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment


@pytest.mark.parametrize("command", [["status"], ["dashboard", "--port", "1"]])
def test_an_unknown_time_zone_is_refused_at_start_naming_the_setting(
    tmp_path: Path, command: list[str]
) -> None:
    env = clean_environment(AUDIOBATCH_TIME_ZONE="Europe/Atlantis", AUDIOBATCH_HOME=str(tmp_path))
    result = audiobatch(*command, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "AUDIOBATCH_TIME_ZONE: unknown time zone 'Europe/Atlantis'" in result.stderr
    assert "IANA name such as Europe/Berlin" in result.stderr
    assert not (tmp_path / "state.db").exists()  # refused before anything was written
