"""A local, faithful stand-in for the ElevenLabs API (an independent implementation: it imports
nothing of audiobatch's client or renderers).

Its parts load on first use, so a command that only needs a constant of it (the CLI's help) does
not pay for FastAPI and the audio synthesis at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audiobatch.emulator.app import create_app
    from audiobatch.emulator.gate import EmulatorConfig
    from audiobatch.emulator.server import RunningEmulator, serve, serve_in_thread

_HOMES = {
    "create_app": "audiobatch.emulator.app",
    "EmulatorConfig": "audiobatch.emulator.gate",
    "RunningEmulator": "audiobatch.emulator.server",
    "serve": "audiobatch.emulator.server",
    "serve_in_thread": "audiobatch.emulator.server",
}

__all__ = ["EmulatorConfig", "RunningEmulator", "create_app", "serve", "serve_in_thread"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
