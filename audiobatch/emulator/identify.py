"""The emulator says what it is: every answer carries ``x-audiobatch-emulator: 1``.

The real API never sends this header, so a client can tell audio the emulator made from the real
thing (audiobatch records it on the batch). Tests that need the emulator to stand in for the real
API switch it off (``audiobatch emulator --no-identify``).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Scope

HEADER = ("x-audiobatch-emulator", "1")


def identify(scope: Scope, headers: MutableHeaders) -> None:
    """Say the answer comes from the emulator (an :class:`~audiobatch.asgi.EditResponseHeaders`
    edit)."""
    headers.append(*HEADER)
