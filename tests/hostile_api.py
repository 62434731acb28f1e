"""A hostile stand-in for the API: one canned 200 (or any status) for every request, whatever was
asked, over real HTTP. It serves what the emulator never would: error pages, bodies of another
format, ZIP bombs, bodies that trickle in."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Canned:
    """The answer to a request: its body sent whole, or ``piece_bytes`` at a time with
    ``pause_s`` before each piece (a trickle)."""

    body: bytes
    content_type: str
    status: int = 200
    piece_bytes: int | None = None
    pause_s: float = 0.0

    def trickled(self, piece_bytes: int, pause_s: float) -> Canned:
        """This answer, sent ``piece_bytes`` every ``pause_s``."""
        return Canned(self.body, self.content_type, self.status, piece_bytes, pause_s)

    def pieces(self) -> list[bytes]:
        size = self.piece_bytes or max(1, len(self.body))
        return [self.body[at : at + size] for at in range(0, len(self.body), size)]


class HostileApi:
    """Serves ``answers`` on loopback in a daemon thread, in turn, the last one to every request
    from then on; ``url`` is where it listens."""

    def __init__(self, *answers: Canned) -> None:
        turns = iter(answers)
        last = answers[-1]
        lock = threading.Lock()

        def next_answer() -> Canned:
            with lock:
                return next(turns, last)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                self.do_GET()

            def do_GET(self) -> None:
                answer = next_answer()
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                self.send_header("content-length", str(len(answer.body)))
                self.send_header("request-id", "hostile-request")
                self.end_headers()
                try:
                    for piece in answer.pieces():
                        time.sleep(answer.pause_s)
                        self.wfile.write(piece)
                        self.wfile.flush()
                except ConnectionError:
                    pass  # the client gave up on a trickle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> HostileApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
