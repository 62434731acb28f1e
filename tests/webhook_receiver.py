"""A local webhook receiver for tests: a threaded HTTP server that answers each request as its
plan says (``"500"``, ``"slow"``, ``"hang"`` until released, then ``"ok"``), and keeps what it
was sent."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answer: str


class Receiver:
    def __init__(self, plan: list[str], slow_s: float = 2.0) -> None:
        self.plan = list(plan)
        self.slow_s = slow_s
        self.received: list[Received] = []
        self.hanging = threading.Event()  # a "hang" request has arrived
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    answer = receiver.plan.pop(0) if receiver.plan else "ok"
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(headers, body, answer))
                if answer == "hang":
                    receiver.hanging.set()
                    receiver.release.wait(120)
                elif answer == "slow":
                    time.sleep(receiver.slow_s)
                try:
                    self.send_response(500 if answer == "500" else 204)
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=t0k"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
