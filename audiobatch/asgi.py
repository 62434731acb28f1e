"""Response headers edited on their way out, as plain ASGI middleware: a refusal raised while a
route reads the body passes through, and streamed bodies are left untouched."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HeaderEdit = Callable[[Scope, MutableHeaders], None]


class EditResponseHeaders:
    """ASGI middleware: ``edit(scope, headers)`` on the headers of every HTTP response, before
    they are sent."""

    def __init__(self, app: ASGIApp, edit: HeaderEdit) -> None:
        self.app = app
        self.edit = edit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_edited(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.edit(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_edited)
