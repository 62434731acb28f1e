"""A job's API answer kept on local disk until its outputs are stored.

The answer is written to the spool as it is read. If storing its outputs then fails (the object
store is unreachable, say), the rest of the answer is still read into the spool, and the retry
replays it instead of asking the API again: an outage of the store costs no second generation,
even when it strikes in the middle of a long upload. Only a whole answer is replayed: one cut short
never gets its ``answer.json``, so its retry asks the API.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import BinaryIO

import httpx

from audiobatch.elevenlabs.client import AnswerContext, ApiAnswer
from audiobatch.elevenlabs.sniff import Expected
from audiobatch.errors import AudiobatchError, StorageError

CHUNK_BYTES = 1 << 20


class AnswerSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.body = folder / "answer.body"
        self._head = folder / "answer.json"  # written once the body is whole

    def replay(self, expected: Expected) -> AnswerContext | None:
        """The spooled answer, if a whole one is here; checked as it is read, as any answer."""
        if not self._head.is_file():
            return None
        head = json.loads(self._head.read_text())
        response = httpx.Response(
            head["status"], headers=head["headers"], stream=_FileStream(self.body)
        )
        return nullcontext(ApiAnswer(response, expected))

    @contextmanager
    def record(self, call: AnswerContext) -> Iterator[ApiAnswer]:
        """``call``'s answer, spooled as it is read."""
        self.discard()
        self.folder.mkdir(parents=True)
        with call as answer:
            recorded = _RecordedAnswer(answer, self)
            try:
                yield recorded
            except StorageError:
                recorded.read_rest()
                raise
            finally:
                recorded.close()

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
    stale = [folder for folder in root.iterdir() if _last_touched_s(folder) < cutoff]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def _last_touched_s(folder: Path) -> float:
    """When ``folder`` or a file in it last changed (a file being appended to leaves its
    folder's own time as it was)."""
    times = [folder.stat().st_mtime]
    with suppress(OSError):
        times += [entry.stat().st_mtime for entry in folder.iterdir()]
    return max(times)


class _RecordedAnswer(ApiAnswer):
    def __init__(self, answer: ApiAnswer, spool: AnswerSpool) -> None:
        super().__init__(answer.response, answer.expected, answer.pace)
        self._spool = spool
        # What is left to read of the body, and the spool file it goes to: kept here, not in the
        # generator, so that read_rest can carry on where a consumer stopped.
        self._rest: Iterator[bytes] | None = None
        self._body: BinaryIO | None = None

    def iter_bytes(self, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        self._rest = super().iter_bytes(chunk_bytes)
        self._body = open(self._spool.body, "wb")  # noqa: SIM115 - closed by close()
        for chunk in self._rest:
            self._body.write(chunk)
            yield chunk
        self._finish()

    def read_rest(self) -> None:
        """Spool what the consumer left unread, and seal the answer if it comes whole."""
        if self._rest is None or self._body is None or self._body.closed:
            return
        with suppress(AudiobatchError):  # cut short: never sealed, so the retry asks the API
            for chunk in self._rest:
                self._body.write(chunk)
            self._finish()

    def close(self) -> None:
        if self._body is not None:
            self._body.close()

    def _finish(self) -> None:
        self.close()
        self._spool.seal(self)


class _FileStream(httpx.SyncByteStream):
    def __init__(self, path: Path) -> None:
        self._path = path

    def __iter__(self) -> Iterator[bytes]:
        with open(self._path, "rb") as body:
            while chunk := body.read(CHUNK_BYTES):
                yield chunk
