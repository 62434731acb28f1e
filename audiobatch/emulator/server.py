"""Serving the emulator: blocking for the CLI, or in a background thread for ``run`` and tests."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import closing
from types import TracebackType

import uvicorn

from audiobatch.emulator.app import create_app
from audiobatch.emulator.gate import EmulatorConfig

START_TIMEOUT_S = 10.0


def serve(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


class RunningEmulator:
    """An emulator serving in a daemon thread; ``url`` is where it listens."""

    def __init__(self, config: EmulatorConfig, host: str, port: int) -> None:
        if port == 0:
            with closing(socket.socket()) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(create_app(config), host=host, port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(
    config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    return RunningEmulator(config, host, port)
