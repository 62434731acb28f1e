"""A manifest's ``notify`` key: where its batch's webhook events go, which ones, and after how
many failed jobs ``batch.failure_threshold`` fires.

```yaml
notify:
  url: https://hooks.example.com/audiobatch
  events: [batch.ended, batch.paused, batch.failure_threshold]   # default: all of them
  failure_threshold: 10                                          # failed jobs; default: none
```

A webhook URL must be http or https, and may not name a cloud metadata endpoint or a link-local
address: a receiver is reached from inside the deployment, whose metadata service hands out its
credentials to whoever can make it send a request there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from audiobatch.suggestions import did_you_mean

BATCH_ENDED = "batch.ended"
BATCH_PAUSED = "batch.paused"
FAILURE_THRESHOLD = "batch.failure_threshold"
EVENTS: tuple[str, ...] = (BATCH_ENDED, BATCH_PAUSED, FAILURE_THRESHOLD)
"""Every event a webhook may be sent."""

NOTIFY_KEYS = ("url", "events", "failure_threshold")
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "100.100.100.200", "fd00:ec2::254"}
)
"""Cloud metadata endpoints outside the link-local ranges (GCP's names, Alibaba's, AWS's IPv6)."""


@dataclass(frozen=True)
class Notify:
    """A batch's own webhook: its URL, the events it is sent, the failed jobs that make
    ``batch.failure_threshold`` fire (None: never)."""

    url: str
    events: tuple[str, ...] = EVENTS
    failure_threshold: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "events": list(self.events),
            "failure_threshold": self.failure_threshold,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Notify | None:
        if not data:
            return None
        return cls(data["url"], tuple(data["events"]), data.get("failure_threshold"))


def url_problem(url: object) -> str | None:
    """Why ``url`` may not receive webhooks; None when it may."""
    if not isinstance(url, str):
        return "a webhook URL must be a string: http:// or https://"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"webhook URL {url!r} is not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"webhook URL {url!r} must start with http:// or https://"
    if not host:
        return f"webhook URL {url!r} names no host"
    if host.rstrip(".").lower() in METADATA_HOSTS:
        return (
            f"webhook URL {url!r} points at a cloud metadata endpoint ({host}), which hands out "
            "the deployment's credentials: refused"
        )
    if address_problem(host):
        return f"webhook URL {url!r}: {address_problem(host)}"
    return None


def shown_url(url: str) -> str:
    """``url`` as shown: without credentials or query, where receivers often carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def address_problem(host: str) -> str | None:
    """Why the address ``host`` (an IP address; a name passes) may not receive webhooks."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    if (mapped or address).is_link_local or str(mapped or address) in METADATA_HOSTS:
        return (
            f"{host} is link-local, where cloud metadata endpoints live (169.254.169.254): refused"
        )
    return None


def notify_problems(
    raw: Any, report: Callable[[tuple[str | int, ...], str], None]
) -> Notify | None:
    """The ``notify`` section as a :class:`Notify`, or None when it is absent or wrong;
    ``report(path under notify, message)`` gets each problem."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        report((), "must be a mapping with url, and optionally events and failure_threshold")
        return None
    before = _Counted(report)
    for key in raw:
        if key not in NOTIFY_KEYS:
            before((key,), f"unknown field{did_you_mean(str(key), NOTIFY_KEYS)}; notify has "
                   f"{', '.join(NOTIFY_KEYS)}")  # fmt: skip
    url = raw.get("url")
    if url is None:
        before(("url",), "required field is missing")
    elif problem := url_problem(url):
        before(("url",), problem)
    events = _events(raw.get("events", list(EVENTS)), before)
    asks_threshold = FAILURE_THRESHOLD in events and "events" in raw
    threshold = raw.get("failure_threshold")
    if threshold is not None and (
        not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1
    ):
        before(("failure_threshold",), "must be a whole number of failed jobs, at least 1")
    elif threshold is None and asks_threshold:
        before(("events",), f"{FAILURE_THRESHOLD} needs failure_threshold: how many failed jobs")
    if before.count:
        return None
    return Notify(str(url), events, threshold)


def _events(raw: Any, report: Callable[[tuple[str | int, ...], str], None]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        report(("events",), f"must be a list of events: {', '.join(EVENTS)}")
        return ()
    for index, event in enumerate(raw):
        if event not in EVENTS:
            report(
                ("events", index),
                f"unknown event {event!r}{did_you_mean(str(event), EVENTS)}; "
                f"known: {', '.join(EVENTS)}",
            )
    return tuple(dict.fromkeys(str(event) for event in raw))


@dataclass
class _Counted:
    """A reporter that counts what it reports."""

    report: Callable[[tuple[str | int, ...], str], None]
    count: int = 0

    def __call__(self, path: tuple[str | int, ...], text: str) -> None:
        self.count += 1
        self.report(path, text)
