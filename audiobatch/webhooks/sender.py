"""The webhook sender: drains the outbox (:mod:`audiobatch.db.webhooks`) on its own thread of the
process that runs the reconciler tick, never in a worker's render path.

One delivery at a time: claim it under a lease (a committed transaction), POST it signed with no
transaction open, record the answer. A 2xx answer delivers it; anything else (another status, a
refused connection, a timeout) is tried again after a jittered, growing wait, and given up after
``max_attempts``. Redirects are not followed. A URL whose host resolves to a link-local address
(where cloud metadata lives) is given up at once. The receiver's body is never read.
"""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from audiobatch.db.models import utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.webhooks import Answer, Claimed, address_events, claim_delivery, record_answer
from audiobatch.manifest.notify import address_problem
from audiobatch.retry import backoff_s
from audiobatch.webhooks.signing import signed_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderConfig:
    """Where and how the sender delivers: the deployment's URL (every batch's events), the
    signing secret (without it deliveries wait), and the attempts' timing."""

    database_url: str
    deployment_url: str | None
    secret: str | None
    timeout_s: float = 10.0
    max_attempts: int = 12
    base_delay_s: float = 5.0
    max_delay_s: float = 3600.0

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is this sender's: the request's connect, write and read
        of the answer's headers, each bounded by ``timeout_s``, with room to spare."""
        return 4 * self.timeout_s


@dataclass
class WebhookSender:
    """Sends what is due each time it is called; returns how many attempts it made."""

    config: SenderConfig
    client: httpx.Client
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    most_per_pass: int = 100

    def __call__(self) -> int:
        url = self.config.database_url
        with session_scope(url) as session:
            address_events(session, self.config.deployment_url, self.clock())
        if self.config.secret is None:
            return 0
        made = 0
        while made < self.most_per_pass:
            with session_scope(url) as session:
                claimed = claim_delivery(session, self.clock(), self.config.lease_s)
            if claimed is None:
                break
            made += 1
            answer = self.attempt(claimed)
            with session_scope(url) as session:
                kept = record_answer(session, claimed, answer, self.clock())
            log.info(
                "webhook %s attempt %d to %s: %s%s", claimed.id, claimed.attempt,
                urlsplit(claimed.url).hostname, answer.status or answer.error,
                "" if kept else " (lease ran out first)",
            )  # fmt: skip
        return made

    def attempt(self, claimed: Claimed) -> Answer:
        """POST the delivery once; what became of it."""
        host = urlsplit(claimed.url).hostname or ""
        if problem := resolved_problem(host):
            return Answer(None, f"{problem}; not sent", gave_up=True)
        assert self.config.secret is not None
        headers = signed_headers(
            self.config.secret, claimed.id, int(self.clock().timestamp()), claimed.body
        )
        status: int | None = None
        try:
            with self.client.stream(
                "POST", claimed.url, content=claimed.body.encode(), headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if 200 <= status < 300:
                return Answer(status, None)
            error = f"answered HTTP {status}"
        if claimed.attempt >= self.config.max_attempts:
            return Answer(
                status, f"{error}; gave up after {claimed.attempt} attempts", gave_up=True
            )
        wait_s = backoff_s(
            claimed.attempt, self.config.base_delay_s, self.config.max_delay_s, self.rng
        )
        return Answer(status, error, retry_at=self.clock() + timedelta(seconds=wait_s))


def resolved_problem(host: str) -> str | None:
    """Why ``host`` may not be sent to once resolved (a name for a link-local address); a name
    that does not resolve passes here and fails as the request's connection error."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        if problem := address_problem(str(info[4][0])):
            return f"{host} resolves to {info[4][0]}: {problem}"
    return None


def build_client(config: SenderConfig) -> httpx.Client:
    return httpx.Client(
        timeout=config.timeout_s,
        follow_redirects=False,
        headers={"user-agent": "audiobatch-webhooks"},
    )
