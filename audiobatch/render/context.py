"""What a renderer gets to do its work: the API client, storage, and a check that its job is
still its own.

Fencing: a worker that lost its lease never changes a committed output
----------------------------------------------------------------------
A worker can stall (a GC pause, a stopped VM) past its lease while another worker takes the job,
stores its outputs and commits them; the first one then wakes up mid-request. Outputs keep their
stable keys ``<batch>/<batch id>/<job id>/<file>`` (where users, ``download``, ``results.json``
and the dashboard find them), and three rules keep every committed object equal to its row:

1. Every output is written create-only (:meth:`Storage.write` with ``exclusive``): a hard link
   from a complete temporary file on local storage, ``If-None-Match: *`` on the PutObject or the
   CompleteMultipartUpload on S3. A write never replaces an object: it fails if the key holds
   one when it completes, whoever wrote that one and however late this writer is.
2. Only the job's lease holder removes an object at its keys, and only while its row is held
   under its lease (:func:`audiobatch.db.fencing.while_leased`): a job runs only while it is not
   ``succeeded``, and outputs are committed only with ``succeeded``, so an object at a key of a
   job this worker holds is uncommitted (left by an interrupted or late writer) and may go. The
   row lock makes check and removal one step: no other worker can take the job, nor commit it,
   until the removal is done; a worker that stalls inside that step holds the job until it
   wakes, and removes nothing that was committed.
3. Outputs are committed only by the lease holder, in the same conditional UPDATE that checks the
   lease (:func:`audiobatch.db.jobs.succeed`), after each object is read back and verified.

A late writer therefore ends in one of three ways, none of which touches a committed object: its
write meets the winner's object and fails (rule 1); its write lands first, on a key the winner
has not written yet, and its commit fails (rule 3) while the winner clears the leftover (rule 2);
or it finds a leftover to clear and the lease check fails. In each case it ends its attempt as
``abandoned`` (:class:`LeaseLostError`). A lease holder whose write meets a late writer's object
(written between its clearing and its write) retries without using an attempt
(:class:`StorageConflictError`); the answer is replayed from the spool and the leftover cleared.
Uncommitted objects of jobs that never run again stay, and ``audiobatch verify`` reports them as
stray; interrupted writes leave only temporary files or multipart uploads, which housekeeping
removes, and a leftover at a key never blocks a retry, whose lease holder clears it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from audiobatch.db.outputs import StoredArtifact
from audiobatch.elevenlabs.client import ApiAnswer, ElevenLabsClient
from audiobatch.elevenlabs.formats import content_type, extension
from audiobatch.elevenlabs.limits import AnswerLimits, SpeechRates
from audiobatch.errors import StorageConflictError
from audiobatch.manifest.loudness import Loudness
from audiobatch.render.leases import LeaseLostError
from audiobatch.render.loudness import LOUDNESS_FILE, LoudnessReport, file_frames, normalise
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
    # runs an action while the job's row is held under this worker's lease; False, not run, once
    # the job is not this worker's (see the module note)
    fence: Callable[[Callable[[], None]], bool]
    call: CallInfo | None = None
    answer_received: Callable[[], None] = lambda: None  # the API's answer has been read whole
    limits: AnswerLimits = field(default_factory=AnswerLimits)
    speech_rates: SpeechRates = field(default_factory=SpeechRates)
    # where its sources may come from: local folders (its batch's) and S3 buckets (None: any)
    source_roots: tuple[Path, ...] = ()
    source_buckets: tuple[str, ...] | None = None
    outputs: list[tuple[str, StoredObject]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the attempt should say beside its outcome
    # what its loudness pass measured (``loudness.json``), recorded on the job with its outputs
    loudness: dict[str, Any] | None = None

    def answered(self, answer: ApiAnswer) -> None:
        """Note the API's answer headers for the attempt record."""
        self.call = CallInfo(
            answer.status,
            answer.request_id,
            answer.character_cost,
            answer.max_concurrency,
            answer.emulator,
        )

    def store_answer(
        self,
        call: AbstractContextManager[ApiAnswer],
        output_format: str,
        loudness: Loudness | None = None,
    ) -> None:
        """Send the request, note the answer, stream its body into ``audio.<ext>`` (brought to
        ``loudness``, if given)."""
        with call as answer:
            self.answered(answer)
            self.store_audio(answer.iter_bytes(), output_format, loudness)

    def store_audio(
        self, chunks: Iterable[bytes], output_format: str, loudness: Loudness | None = None
    ) -> StoredObject:
        """Store ``audio.<ext>``, the extension and type following the output format; with a
        ``loudness``, brought to it first (the answer is read whole to a local file, measured,
        encoded again, and ``loudness.json`` stored beside it)."""
        if loudness is None:
            return self.store(
                f"audio.{extension(output_format)}", chunks, content_type(output_format)
            )
        with tempfile.TemporaryDirectory(prefix="audiobatch-loudness-") as folder:
            rendered = Path(folder) / f"rendered.{extension(output_format)}"
            with open(rendered, "wb") as handle:
                for chunk in chunks:
                    self.heartbeat()
                    handle.write(chunk)
            self.answer_received()  # measuring and encoding need no API slot
            leveled = Path(folder) / f"audio.{extension(output_format)}"
            report = normalise(
                lambda: file_frames(rendered, output_format),
                output_format,
                leveled,
                loudness,
                self.heartbeat,
            )
            self.store_loudness(report)
            return self.store_audio(file_chunks(leveled), output_format)

    def store_loudness(self, report: LoudnessReport) -> None:
        """Store ``loudness.json`` and keep what it says for the job's record; its notes (a gain
        reduced not to clip) go to the attempt."""
        self.store(LOUDNESS_FILE, [report.to_json()], "application/json")
        self.loudness = report.as_dict()
        self.notes.extend(report.notes)

    def store_audio_file(self, path: Path, output_format: str) -> StoredObject:
        """Store the audio file at ``path`` on this machine as ``audio.<ext>``."""
        return self.store_audio(file_chunks(path), output_format)

    def store(self, name: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Stream ``chunks`` into ``<prefix>/<name>``, stopping if the job stops being ours.

        Raises LeaseLostError when another worker has the job, and StorageConflictError when a
        late writer's object appeared at the key while this worker still holds the job.
        """
        key = f"{self.prefix}/{name}"
        try:
            stored = self.storage.write(
                key, self._beating(key, chunks), content_type, exclusive=True
            )
        except StorageConflictError:
            # taken since it was cleared: a late writer's, unless this worker is the late one
            self._fenced(lambda: None)
            raise
        self.outputs.append((name, stored))
        return stored

    def _clear(self, key: str) -> None:
        """Remove the object at ``key``, an uncommitted leftover, while the job is ours."""
        if self.storage.size(key) is not None:
            self._fenced(lambda: self.storage.delete(key))

    def _fenced(self, action: Callable[[], None]) -> None:
        if not self.fence(action):
            raise LeaseLostError(f"{self.prefix}: lease lost, another worker has the job")

    def _beating(self, key: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        # The key is cleared once the answer has begun to flow, so that a store failing here
        # still lets the spool read the rest of the answer for the retry (AnswerSpool.record).
        flowing = iter(chunks)
        first = next(flowing, None)
        self._clear(key)
        for chunk in chain([] if first is None else [first], flowing):
            self.heartbeat()
            yield chunk
        # Every output is stored after, or while, the answer is read: once a stream of chunks
        # has ended, the answer is in and finishing the write (fsync, upload) needs no API slot.
        self.answer_received()


READ_CHUNK_BYTES = 1 << 20


def file_chunks(path: Path) -> Iterator[bytes]:
    """A local file's bytes, a chunk at a time."""
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            yield chunk
