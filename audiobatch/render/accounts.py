"""What a worker renders each account's jobs with: the account's client (its API key), its
limiter (its own pools: each key has its concurrency) and the backend its requests go to.

The default account's are built with the worker; another account's on its first job, from the
registered accounts (:mod:`audiobatch.accounts`), and kept for the process's life.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from audiobatch.backend import Backend
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.limiter import Limiter


@dataclass(frozen=True)
class ApiAccount:
    """One account's means of rendering, in one worker process."""

    client: ElevenLabsClient
    limiter: Limiter
    backend: Backend  # the API ``client`` talks to: part of every request's fingerprint


class AccountLines:
    """Each named account's :class:`ApiAccount`, made by ``build(name)`` on first use (which
    raises :class:`~audiobatch.errors.AccountNameError` for an account not registered)."""

    def __init__(self, build: Callable[[str], ApiAccount]) -> None:
        self._build = build
        self._built: dict[str, ApiAccount] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ApiAccount:
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def built(self) -> list[ApiAccount]:
        """The accounts built so far."""
        with self._lock:
            return list(self._built.values())
