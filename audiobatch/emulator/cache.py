"""Rendered answers kept by request digest, so the same request is cheap and byte-identical."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")
ENTRIES = 256


class RenderCache:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._entries: OrderedDict[str, Any] = OrderedDict()

    def digest(self, *parts: object) -> str:
        return hashlib.sha256(repr((self._seed, *parts)).encode()).hexdigest()

    async def get(self, digest: str, make: Callable[[], T]) -> T:
        if digest not in self._entries:
            self._entries[digest] = await run_in_threadpool(make)
            while len(self._entries) > ENTRIES:
                self._entries.popitem(last=False)
        self._entries.move_to_end(digest)
        value: T = self._entries[digest]
        return value
