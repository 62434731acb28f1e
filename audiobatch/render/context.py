"""What a renderer gets to do its work: the API client, storage, and a check that its job is
still its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from audiobatch.db.outputs import StoredArtifact
from audiobatch.elevenlabs.client import ApiAnswer, ElevenLabsClient
from audiobatch.elevenlabs.formats import content_type, extension
from audiobatch.elevenlabs.limits import AnswerLimits, SpeechRates
from audiobatch.storage import Storage, StoredObject


@dataclass
class CallInfo:
    """What the API said about the call that succeeded at the HTTP level."""

    http_status: int
    request_id: str | None
    character_cost: int | None
    max_concurrency: int | None
    emulator: bool = False  # the answer came from audiobatch's emulator, not the real API


@dataclass
class RenderContext:
    """One job's rendering: where its outputs go, and the hooks it calls as it goes."""

    client: ElevenLabsClient
    storage: Storage
    prefix: str  # "<batch>/<batch id>/<job id>"
    heartbeat: Callable[[], None]  # raises LeaseLostError once another worker has the job
    parent_artifacts: Callable[[str], list[StoredArtifact]]  # a job id -> its stored outputs
    call: CallInfo | None = None
    answer_received: Callable[[], None] = lambda: None  # the API's answer has been read whole
    limits: AnswerLimits = field(default_factory=AnswerLimits)
    speech_rates: SpeechRates = field(default_factory=SpeechRates)
    outputs: list[tuple[str, StoredObject]] = field(default_factory=list)

    def answered(self, answer: ApiAnswer) -> None:
        """Note the API's answer headers for the attempt record."""
        self.call = CallInfo(
            answer.status,
            answer.request_id,
            answer.character_cost,
            answer.max_concurrency,
            answer.emulator,
        )

    def store_answer(self, call: AbstractContextManager[ApiAnswer], output_format: str) -> None:
        """Send the request, note the answer, stream its body into ``audio.<ext>``."""
        with call as answer:
            self.answered(answer)
            self.store_audio(answer.iter_bytes(), output_format)

    def store_audio(self, chunks: Iterable[bytes], output_format: str) -> StoredObject:
        """Store ``audio.<ext>``, the extension and type following the output format."""
        return self.store(f"audio.{extension(output_format)}", chunks, content_type(output_format))

    def store(self, name: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Stream ``chunks`` into ``<prefix>/<name>``, stopping if the job stops being ours."""
        stored = self.storage.write(f"{self.prefix}/{name}", self._beating(chunks), content_type)
        self.outputs.append((name, stored))
        return stored

    def _beating(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.heartbeat()
            yield chunk
        # Every output is stored after, or while, the answer is read: once a stream of chunks
        # has ended, the answer is in and finishing the write (fsync, upload) needs no API slot.
        self.answer_received()
