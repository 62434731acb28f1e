"""The ElevenLabs HTTP client: one method per endpoint, every answer streamed.

httpx errors are translated here, and only here, into :mod:`audiobatch.errors`. A success is handed
back as an :class:`ApiAnswer` whose body is read lazily, so callers can stream it into storage.
Every answer enters through :meth:`ApiAnswer.iter_bytes`, which checks the body's start against
what the endpoint was asked for (:mod:`audiobatch.elevenlabs.sniff`) before handing on a byte: an
error body served with a 200 is raised as the API error it is, a body of another format as an
:class:`UnexpectedAnswerError`. Every read from the socket is held to the endpoint's
:class:`~audiobatch.elevenlabs.pace.Pace`: a body that trickles in is an :class:`ApiTransportError`,
as one cut off is.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from audiobatch.elevenlabs.errors import error_from_response
from audiobatch.elevenlabs.pace import UNPACED, Pace
from audiobatch.elevenlabs.sniff import HEAD_BYTES, Expected, is_error_body, mismatch
from audiobatch.errors import AnswerTooLargeError, ApiTransportError, UnexpectedAnswerError

if TYPE_CHECKING:
    from audiobatch.elevenlabs.spool import AnswerSpool

ERROR_BODY_LIMIT_BYTES = 64 * 1024
# Music and stems may take minutes before the first byte (behaviour notes §3, §8).
MUSIC_READ_TIMEOUT_S = 600.0
# sent by audiobatch's emulator on every answer, never by the real API
EMULATOR_HEADER = "x-audiobatch-emulator"

AnswerContext = AbstractContextManager["ApiAnswer"]


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request: its name, an open binary stream, its content type."""

    filename: str
    stream: BinaryIO
    content_type: str = "application/octet-stream"

    def as_httpx(self) -> tuple[str, BinaryIO, str]:
        return (self.filename, self.stream, self.content_type)


@dataclass(frozen=True)
class Timeouts:
    """Per-call timeouts. ``read_s`` is the longest silence allowed between two chunks.

    ``json_answer_s`` is the longest the body of a small JSON answer (the subscription, a
    composition plan) may take from its first byte to its last. Any other answer (audio, a
    ZIP, timestamps) must, once ``audio_window_s`` has passed since its first byte, keep sending
    at least ``min_audio_bytes_per_s`` averaged over the last ``audio_window_s``: a quarter of
    the slowest format's bitrate (32 kbit/s), which the API streams at least in real time.
    """

    connect_s: float = 5.0
    read_s: float = 120.0
    write_s: float = 60.0
    pool_s: float = 60.0
    json_answer_s: float = 30.0
    min_audio_bytes_per_s: float = 1000.0
    audio_window_s: float = 30.0

    def for_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s
        )

    def json_pace(self) -> Pace:
        """The pace of a small JSON answer."""
        return Pace(deadline_s=self.json_answer_s)

    def audio_pace(self) -> Pace:
        """The pace of every other answer."""
        return Pace(floor_bytes_per_s=self.min_audio_bytes_per_s, window_s=self.audio_window_s)


class ApiAnswer:
    """A successful (2xx) answer whose body has not been read yet, what it must be, and how
    slowly it may arrive."""

    def __init__(self, response: httpx.Response, expected: Expected, pace: Pace = UNPACED) -> None:
        self._response = response
        self.expected = expected
        self.pace = pace
        headers = response.headers
        self.status = response.status_code
        self.request_id: str | None = headers.get("request-id")
        self.character_cost = _int_header(headers, "character-cost")
        self.max_concurrency = _int_header(headers, "maximum-concurrent-requests")
        self.content_type: str = headers.get("content-type", "application/octet-stream")
        self.emulator = headers.get(EMULATOR_HEADER) == "1"  # the emulator made this answer
        self.headers = headers

    @property
    def response(self) -> httpx.Response:
        return self._response

    def iter_bytes(self, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        """The body, chunk by chunk, once its start is known to be what was asked.

        Raises the API's error for an error body, :class:`UnexpectedAnswerError` for a body that
        is empty or of another format, :class:`ApiTransportError` for one cut short or slower
        than its pace.
        """
        chunks = self._raw_bytes(chunk_bytes)
        head = b""
        for chunk in chunks:
            head += chunk
            if len(head) >= HEAD_BYTES:
                break
        self._check_start(head, chunks)
        if head:
            yield head
        yield from chunks

    def iter_lines(self, max_line_bytes: int) -> Iterator[str]:
        """The body's non-empty lines (for newline-delimited JSON), none longer than
        ``max_line_bytes`` (else :class:`AnswerTooLargeError`)."""
        buffer = bytearray()
        for chunk in self.iter_bytes():
            buffer += chunk
            *lines, rest = buffer.split(b"\n")
            yield from (line.decode(errors="replace") for line in lines if line.strip())
            buffer = rest
            self._within(len(buffer), max_line_bytes, "a line of the answer")
        if buffer.strip():
            yield buffer.decode(errors="replace")

    def read_json(self, max_bytes: int) -> dict[str, Any]:
        """The body, a JSON object, read up to ``max_bytes`` (else :class:`AnswerTooLargeError`);
        a body that is not a JSON object is an :class:`ApiTransportError`."""
        buffer = bytearray()
        for chunk in self.iter_bytes():
            buffer += chunk
            self._within(len(buffer), max_bytes, "the JSON answer")
        text = buffer.decode(errors="replace")
        del buffer  # the text replaces the bytes: the answer is never held twice over
        return json_object(text, self.request_id)

    def _within(self, size_bytes: int, max_bytes: int, what: str) -> None:
        if size_bytes > max_bytes:
            raise AnswerTooLargeError(
                f"{what} is larger than {max_bytes} bytes", request_id=self.request_id
            )

    def _raw_bytes(self, chunk_bytes: int) -> Iterator[bytes]:
        """The body in chunks of ``chunk_bytes``; one cut short of its Content-Length, or
        slower than its pace, is an ApiTransportError."""
        expected = _int_header(self._response.headers, "content-length")
        encoded = "content-encoding" in self._response.headers
        received = 0
        for chunk in _rechunked(_paced(self._response, self.pace, self.request_id), chunk_bytes):
            received += len(chunk)
            yield chunk
        if expected is not None and not encoded and received != expected:
            raise ApiTransportError(
                f"body cut short: {received} of {expected} bytes arrived",
                status=self.status,
                request_id=self.request_id,
            )

    def _check_start(self, head: bytes, rest: Iterator[bytes]) -> None:
        """Raise unless ``head``, the body's start, is what was asked; an error body is read on
        (up to a limit) from ``rest`` and raised as the API's error."""
        if is_error_body(self.expected, self.content_type, head):
            raise error_from_response(self._response, _error_body(itertools.chain([head], rest)))
        problem = mismatch(self.expected, self.content_type, head)
        if problem is not None:
            raise UnexpectedAnswerError(
                f"the API answered {self.status} with {problem}",
                status=self.status,
                request_id=self.request_id,
            )


class ElevenLabsClient:
    """A client for the generation endpoints, authenticated with one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeouts: Timeouts = Timeouts(),
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
    ) -> None:
        self._timeouts = timeouts
        self._http = httpx.Client(
            base_url=base_url,
            headers={"xi-api-key": api_key, "user-agent": "audiobatch"},
            timeout=timeouts.for_httpx(),
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._spool: AnswerSpool | None = None

    def spooled(self, spool: AnswerSpool) -> ElevenLabsClient:
        """This client (same connections) for one job: its answer is replayed from ``spool`` when
        a whole one is there, else asked for and kept there."""
        job_client = copy.copy(self)
        job_client._spool = spool
        return job_client

    def close(self) -> None:
        self._http.close()

    def text_to_dialogue(self, body: Mapping[str, Any], output_format: str) -> AnswerContext:
        """POST /v1/text-to-dialogue: the audio."""
        return self._post(
            "/v1/text-to-dialogue", body, output_format, Expected.audio(output_format)
        )

    def text_to_dialogue_stream(self, body: Mapping[str, Any], output_format: str) -> AnswerContext:
        """POST /v1/text-to-dialogue/stream: the audio, streamed as it is generated."""
        return self._post(
            "/v1/text-to-dialogue/stream", body, output_format, Expected.audio(output_format)
        )

    def text_to_dialogue_with_timestamps(
        self, body: Mapping[str, Any], output_format: str
    ) -> AnswerContext:
        """POST /v1/text-to-dialogue/with-timestamps: one JSON object with base64 audio."""
        return self._post(
            "/v1/text-to-dialogue/with-timestamps", body, output_format, Expected("json")
        )

    def text_to_dialogue_stream_with_timestamps(
        self, body: Mapping[str, Any], output_format: str
    ) -> AnswerContext:
        """POST /v1/text-to-dialogue/stream/with-timestamps: newline-delimited JSON chunks."""
        return self._post(
            "/v1/text-to-dialogue/stream/with-timestamps", body, output_format, Expected("ndjson")
        )

    def music(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music: the composed audio."""
        return self._post(
            "/v1/music",
            body,
            output_format,
            Expected.audio(output_format),
            read_timeout_s=MUSIC_READ_TIMEOUT_S,
        )

    def music_stream(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music/stream: the composed audio, streamed as it is generated."""
        return self._post(
            "/v1/music/stream",
            body,
            output_format,
            Expected.audio(output_format),
            read_timeout_s=MUSIC_READ_TIMEOUT_S,
        )

    def music_detailed(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music/detailed: multipart/mixed, a JSON part then the audio part."""
        return self._post(
            "/v1/music/detailed",
            body,
            output_format,
            Expected("multipart"),
            read_timeout_s=MUSIC_READ_TIMEOUT_S,
        )

    def music_plan(self, body: Mapping[str, Any]) -> AnswerContext:
        """POST /v1/music/plan: a composition plan as JSON (free of charge, rate limited)."""
        return self._post(
            "/v1/music/plan", body, None, Expected("json"), pace=self._timeouts.json_pace()
        )

    def stem_separation(
        self,
        audio: Upload,
        output_format: str | None,
        *,
        stem_variation_id: str | None = None,
    ) -> AnswerContext:
        """POST /v1/music/stem-separation: a ZIP with one file per stem."""
        fields = {"stem_variation_id": stem_variation_id} if stem_variation_id else {}
        return self._post(
            "/v1/music/stem-separation",
            None,
            output_format,
            Expected("zip"),
            files={"file": audio.as_httpx()},
            data=fields,
            read_timeout_s=MUSIC_READ_TIMEOUT_S,
        )

    def speech_to_speech(
        self,
        voice_id: str,
        audio: Upload,
        output_format: str | None,
        fields: Mapping[str, str],
    ) -> AnswerContext:
        """POST /v1/speech-to-speech/{voice_id}: the uploaded speech in another voice."""
        return self._post(
            f"/v1/speech-to-speech/{voice_id}",
            None,
            output_format,
            Expected.audio(output_format),
            files={"audio": audio.as_httpx()},
            data=dict(fields),
        )

    def user_subscription(self) -> AnswerContext:
        """GET /v1/user/subscription: the account's quota, what it used and its next reset."""
        request = self._http.build_request("GET", "/v1/user/subscription")
        return _send(self._http, request, Expected("json"), self._timeouts.json_pace())

    def _post(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        output_format: str | None,
        expected: Expected,
        *,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        read_timeout_s: float | None = None,
        pace: Pace | None = None,
    ) -> AnswerContext:
        """Send the request; its answer held to ``pace``, by default that of audio."""
        params = {"output_format": output_format} if output_format else {}
        timeouts = self._timeouts
        if read_timeout_s is not None:
            timeouts = replace(timeouts, read_s=max(read_timeout_s, timeouts.read_s))
        request = self._http.build_request(
            "POST",
            path,
            json=dict(body) if body is not None else None,
            files=files,
            data=data,
            params=params,
            timeout=timeouts.for_httpx(),
        )
        sent = _send(self._http, request, expected, pace or timeouts.audio_pace())
        if self._spool is None:
            return sent
        return self._spool.replay(expected) or self._spool.record(sent)


@contextmanager
def _send(
    http: httpx.Client, request: httpx.Request, expected: Expected, pace: Pace
) -> Iterator[ApiAnswer]:
    """The answer to ``request`` (sent on entering); an error status is raised as the API's
    error, its body read at ``pace`` too."""
    try:
        response = http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise _transport_error(exc, None) from exc
    try:
        if response.status_code >= 400:
            raise error_from_response(response, _error_body(_paced(response, pace, None)))
        yield ApiAnswer(response, expected, pace)
    finally:
        response.close()


def _paced(response: httpx.Response, pace: Pace, request_id: str | None) -> Iterator[bytes]:
    """The body of ``response`` read by read as it arrives from the socket (a chunk size would
    buffer a trickle out of sight), each read held to ``pace``; an ApiTransportError for a body
    that falls behind, or whose connection fails."""
    watch = pace.watch()
    try:
        for chunk in response.iter_bytes():
            problem = watch.arrived(len(chunk))
            if problem is not None:
                raise ApiTransportError(problem, status=response.status_code, request_id=request_id)
            yield chunk
    except httpx.HTTPError as exc:
        raise _transport_error(exc, request_id) from exc


def _rechunked(chunks: Iterator[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """``chunks`` cut again into chunks of ``chunk_bytes``, the last one shorter."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= chunk_bytes:
            yield bytes(buffer[:chunk_bytes])
            del buffer[:chunk_bytes]
    if buffer:
        yield bytes(buffer)


def json_object(text: str, request_id: str | None) -> dict[str, Any]:
    """``text`` parsed as a JSON object; anything else is an :class:`ApiTransportError`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ApiTransportError(
            f"the API sent text that is not JSON: {text[:80]!r}", request_id=request_id
        ) from exc
    if not isinstance(value, dict):
        raise ApiTransportError("the API sent JSON that is not an object", request_id=request_id)
    return value


def _error_body(chunks: Iterator[bytes]) -> bytes:
    """An error answer's body, up to :data:`ERROR_BODY_LIMIT_BYTES`."""
    body = b""
    try:
        for chunk in chunks:
            body += chunk
            if len(body) >= ERROR_BODY_LIMIT_BYTES:
                break
    except (httpx.HTTPError, ApiTransportError):
        pass  # an error answer cut short still tells its status
    return body


def _transport_error(exc: httpx.HTTPError, request_id: str | None) -> ApiTransportError:
    kind = type(exc).__name__
    return ApiTransportError(
        f"no complete answer from the API ({kind}: {exc})", request_id=request_id
    )


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
