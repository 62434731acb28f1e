"""Where the dashboard may listen: loopback by default; any other address only with a token set,
or when told explicitly to go without one. The address it listens on is a name it answers for."""

from __future__ import annotations

import ipaddress

from audiobatch.config import Settings
from audiobatch.errors import ConfigError

WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(host: str, token_set: bool, *, insecure_no_token: bool) -> None:
    """Refuse to listen beyond loopback while anyone who reaches the address would be an
    operator."""
    if is_loopback(host) or token_set or insecure_no_token:
        return
    raise ConfigError(
        f"refusing to serve the dashboard on {host} without AUDIOBATCH_DASHBOARD_TOKEN: anyone "
        "who reaches it could submit and cancel batches. Set the token, listen on 127.0.0.1, "
        "or pass --insecure-no-token to do it anyway"
    )


def allowed_hosts(settings: Settings, host: str) -> list[str]:
    """The Host names to answer for: the setting's, and the address listened on (unless it is
    every address)."""
    names = list(settings.dashboard_allowed_hosts)
    bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if host not in WILDCARDS and bound.lower() not in names:
        names.append(bound.lower())
    return names
