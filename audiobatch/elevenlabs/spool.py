"""A job's API answer kept on local disk until its outputs are stored.

The answer is written to the spool as it is read. If storing its outputs then fails (the object
store is unreachable, say), the retry replays the spooled answer instead of asking the API again:
an outage of the store costs no second generation. Only a whole answer is replayed: one cut short
never gets its ``answer.json``, so its retry asks the API.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx

from audiobatch.elevenlabs.client import AnswerContext, ApiAnswer

CHUNK_BYTES = 1 << 20


class AnswerSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.body = folder / "answer.body"
        self._head = folder / "answer.json"  # written once the body is whole

    def replay(self) -> AnswerContext | None:
        """The spooled answer, if a whole one is here."""
        if not self._head.is_file():
            return None
        head = json.loads(self._head.read_text())
        response = httpx.Response(
            head["status"], headers=head["headers"], stream=_FileStream(self.body)
        )
        return nullcontext(ApiAnswer(response))

    @contextmanager
    def record(self, call: AnswerContext) -> Iterator[ApiAnswer]:
        """``call``'s answer, spooled as it is read."""
        self.discard()
        self.folder.mkdir(parents=True)
        with call as answer:
            yield _RecordedAnswer(answer.response, self)

    def seal(self, answer: ApiAnswer) -> None:
        head = {"status": answer.status, "headers": list(answer.headers.multi_items())}
        self._head.write_text(json.dumps(head))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_stale(root: Path, older_than_s: float) -> int:
    """Remove the spools under ``root`` untouched for ``older_than_s`` (their jobs were retried
    elsewhere, or their worker died); how many went."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    stale = [folder for folder in root.iterdir() if folder.stat().st_mtime < cutoff]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


class _RecordedAnswer(ApiAnswer):
    def __init__(self, response: httpx.Response, spool: AnswerSpool) -> None:
        super().__init__(response)
        self._spool = spool

    def iter_bytes(self, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        with open(self._spool.body, "wb") as body:
            for chunk in super().iter_bytes(chunk_bytes):
                body.write(chunk)
                yield chunk
        self._spool.seal(self)


class _FileStream(httpx.SyncByteStream):
    def __init__(self, path: Path) -> None:
        self._path = path

    def __iter__(self) -> Iterator[bytes]:
        with open(self._path, "rb") as body:
            while chunk := body.read(CHUNK_BYTES):
                yield chunk
