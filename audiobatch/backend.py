"""Which API answers a worker: the backend a request's fingerprint names and a batch records.

A request's fingerprint names its :class:`Backend`, the API's base URL and the account (known by a
hash of its key, never by the key), so outputs are reused only from the same API and account:
audio the emulator made is never handed out for a real key, nor one account's outputs to another.
The built-in emulator that ``audiobatch run`` starts when no key is set listens on a new port
each time, with its own well-known key; it is one backend whatever its port, since it answers the
same request with the same audio.

A batch records what rendered its outputs (:meth:`Backend.label`): ``"emulator"`` when the answers came
from an emulator (it says so in a response header), else the API's base URL; ``"mixed"`` once
two of them have rendered for the same batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

EMULATOR = "emulator"
MIXED = "mixed"
# the key `audiobatch run` gives the built-in emulator it starts when ELEVENLABS_API_KEY is unset
EMBEDDED_EMULATOR_KEY = "audiobatch-embedded-emulator"


def key_hash(api_key: str) -> str:
    """A short, stable name for an API key that never reveals it."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Backend:
    """The API requests go to: its base URL (``"emulator"`` for the built-in one) and the
    account, as the hash of its key."""

    api_url: str
    account: str

    @classmethod
    def of(cls, api_url: str, api_key: str) -> Backend:
        """The backend reached at ``api_url`` with ``api_key``."""
        where = EMULATOR if api_key == EMBEDDED_EMULATOR_KEY else api_url.rstrip("/")
        return cls(where, key_hash(api_key))

    def label(self, emulator_answered: bool) -> str:
        """What a batch records for an answer from this backend: ``"emulator"`` when the answer
        said it came from an emulator, else the base URL (never the key)."""
        return EMULATOR if emulator_answered else self.api_url
