"""The emulator says what it is: every answer carries ``x-audiobatch-emulator: 1``.

The real API never sends this header, so a client can tell audio the emulator made from the real
thing (audiobatch records it on the batch). Tests that need the emulator to stand in for the real
API switch it off (``audiobatch emulator --no-identify``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = (b"x-audiobatch-emulator", b"1")


class IdentifyMiddleware:
    """ASGI middleware adding :data:`HEADER` to every HTTP answer (streamed bodies untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_identified(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HEADER]
            await send(message)

        await self.app(scope, receive, send_identified)
