"""A local, faithful stand-in for the ElevenLabs API (an independent implementation: it imports
nothing of audiobatch's client or renderers)."""

from audiobatch.emulator.app import create_app
from audiobatch.emulator.gate import EmulatorConfig
from audiobatch.emulator.server import RunningEmulator, serve, serve_in_thread

__all__ = ["EmulatorConfig", "RunningEmulator", "create_app", "serve", "serve_in_thread"]
