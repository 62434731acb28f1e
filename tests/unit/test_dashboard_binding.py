"""Where the dashboard may listen, and the Host names it then answers for."""

from __future__ import annotations

import pytest

from audiobatch.config import Settings
from audiobatch.dashboard.binding import allowed_hosts, check_exposure
from audiobatch.dashboard.guard import check_host
from audiobatch.errors import ConfigError, UnknownHostError


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    check_exposure(host, token_set=False, insecure_no_token=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "dash.example"])
def test_any_other_address_needs_a_token_or_the_explicit_flag(host: str) -> None:
    with pytest.raises(ConfigError, match="--insecure-no-token"):
        check_exposure(host, token_set=False, insecure_no_token=False)
    check_exposure(host, token_set=True, insecure_no_token=False)
    check_exposure(host, token_set=False, insecure_no_token=True)


def test_the_listening_address_is_answered_besides_the_loopback_names() -> None:
    settings = Settings()
    assert allowed_hosts(settings, "127.0.0.1") == ["localhost", "127.0.0.1", "[::1]"]
    assert allowed_hosts(settings, "0.0.0.0") == ["localhost", "127.0.0.1", "[::1]"]
    assert allowed_hosts(settings, "192.168.1.4")[-1] == "192.168.1.4"
    assert allowed_hosts(settings, "fd00::4")[-1] == "[fd00::4]"
    named = Settings(dashboard_allowed_hosts="Dash.Example")  # type: ignore[arg-type]
    assert allowed_hosts(named, "0.0.0.0") == ["dash.example"]


def test_a_host_header_is_matched_by_its_name_whatever_its_port() -> None:
    allowed = ["localhost", "[::1]", "dash.example"]
    for header in ["localhost", "localhost:8000", "[::1]:8000", "DASH.example:443", "localhost."]:
        check_host(header, allowed)
    for header in ["", "evil.example", "localhost.evil.example", "[::2]:8000", "dash.example.evil"]:
        with pytest.raises(UnknownHostError):
            check_host(header, allowed)
