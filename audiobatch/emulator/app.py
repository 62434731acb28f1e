"""The emulator's HTTP app: every endpoint of the seed, answered as the API does, plus its ledger.

Checks come in the API's order: key (401), body (422), limits (400), voices (404), concurrency
(429). A request holds its place in its key's pool (general, or music with stems) while it generates.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from audiobatch.asgi import EditResponseHeaders
from audiobatch.emulator import dialogue, music, voice
from audiobatch.emulator.cache import RenderCache
from audiobatch.emulator.gate import EmulatorConfig, Gate
from audiobatch.emulator.identify import identify
from audiobatch.emulator.params import Key
from audiobatch.emulator.state import EmulatorState

__all__ = ["EmulatorConfig", "create_app"]


def create_app(config: EmulatorConfig) -> FastAPI:
    app = FastAPI(title="audiobatch emulator of the ElevenLabs API")
    if config.identify:
        app.add_middleware(EditResponseHeaders, edit=identify)
    state = EmulatorState(quota_chars=config.quota_chars, quota_period_s=config.quota_period_s)
    gate, cache = Gate(config, state), RenderCache(config.seed)
    for endpoints in (dialogue, music, voice):
        endpoints.register(app, gate, cache)

    @app.get("/v1/user/subscription", response_model=None)
    async def subscription(xi_api_key: Key = None) -> dict[str, Any] | JSONResponse:
        """The key's quota: characters used and limit, and the next reset (the API's shape)."""
        who = gate.authorize(xi_api_key)
        return who if isinstance(who, JSONResponse) else state.subscription(who)

    @app.get("/_emulator/ledger")
    async def ledger() -> list[dict[str, Any]]:
        """Every generation served: request id, path, sha256 of the body and of the audio."""
        with state.lock:
            return list(state.ledger)

    @app.get("/_emulator/stats")
    async def stats() -> dict[str, Any]:
        """Requests by status, 429s, in-flight requests by key hash and pool."""
        return state.stats()

    @app.post("/_emulator/quota")
    async def grant_quota(chars: int) -> dict[str, Any]:
        """Raise every key's character quota by ``chars``, as buying more credits does."""
        return {"quota_chars": state.grant(chars)}

    return app
