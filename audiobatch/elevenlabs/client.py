"""The ElevenLabs HTTP client: one method per endpoint, every answer streamed.

httpx errors are translated here, and only here, into :mod:`audiobatch.errors`. A success is handed
back as an :class:`ApiAnswer` whose body is read lazily, so callers can stream it into storage.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from audiobatch.elevenlabs.errors import error_from_response
from audiobatch.errors import ApiTransportError

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
    """Per-call timeouts. ``read_s`` is the longest silence allowed between two chunks."""

    connect_s: float = 5.0
    read_s: float = 120.0
    write_s: float = 60.0
    pool_s: float = 60.0

    def for_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s
        )


class ApiAnswer:
    """A successful (2xx) answer whose body has not been read yet."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
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
        """The body, chunk by chunk; a body cut short or empty raises :class:`ApiTransportError`."""
        expected = _int_header(self._response.headers, "content-length")
        encoded = "content-encoding" in self._response.headers
        received = 0
        try:
            for chunk in self._response.iter_bytes(chunk_bytes):
                received += len(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.request_id) from exc
        if expected is not None and not encoded and received != expected:
            raise ApiTransportError(
                f"body cut short: {received} of {expected} bytes arrived",
                status=self.status,
                request_id=self.request_id,
            )
        if not received:  # no generation answers with nothing
            raise ApiTransportError(
                f"the API answered {self.status} with an empty body",
                status=self.status,
                request_id=self.request_id,
            )

    def iter_lines(self) -> Iterator[str]:
        """The body's non-empty lines (for newline-delimited JSON)."""
        buffer = b""
        for chunk in self.iter_bytes():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            yield from (line.decode() for line in lines if line.strip())
        if buffer.strip():
            yield buffer.decode()

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())


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
        return self._post("/v1/text-to-dialogue", body, output_format)

    def text_to_dialogue_stream(self, body: Mapping[str, Any], output_format: str) -> AnswerContext:
        """POST /v1/text-to-dialogue/stream: the audio, streamed as it is generated."""
        return self._post("/v1/text-to-dialogue/stream", body, output_format)

    def text_to_dialogue_with_timestamps(
        self, body: Mapping[str, Any], output_format: str
    ) -> AnswerContext:
        """POST /v1/text-to-dialogue/with-timestamps: one JSON object with base64 audio."""
        return self._post("/v1/text-to-dialogue/with-timestamps", body, output_format)

    def text_to_dialogue_stream_with_timestamps(
        self, body: Mapping[str, Any], output_format: str
    ) -> AnswerContext:
        """POST /v1/text-to-dialogue/stream/with-timestamps: newline-delimited JSON chunks."""
        return self._post("/v1/text-to-dialogue/stream/with-timestamps", body, output_format)

    def music(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music: the composed audio."""
        return self._post("/v1/music", body, output_format, read_timeout_s=MUSIC_READ_TIMEOUT_S)

    def music_stream(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music/stream: the composed audio, streamed as it is generated."""
        return self._post(
            "/v1/music/stream", body, output_format, read_timeout_s=MUSIC_READ_TIMEOUT_S
        )

    def music_detailed(self, body: Mapping[str, Any], output_format: str | None) -> AnswerContext:
        """POST /v1/music/detailed: multipart/mixed, a JSON part then the audio part."""
        return self._post(
            "/v1/music/detailed", body, output_format, read_timeout_s=MUSIC_READ_TIMEOUT_S
        )

    def music_plan(self, body: Mapping[str, Any]) -> AnswerContext:
        """POST /v1/music/plan: a composition plan as JSON (free of charge, rate limited)."""
        return self._post("/v1/music/plan", body, None)

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
            files={"audio": audio.as_httpx()},
            data=dict(fields),
        )

    def _post(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        output_format: str | None,
        *,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        read_timeout_s: float | None = None,
    ) -> AnswerContext:
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
        if self._spool is None:
            return _send(self._http, request)
        return self._spool.replay() or self._spool.record(_send(self._http, request))


@contextmanager
def _send(http: httpx.Client, request: httpx.Request) -> Iterator[ApiAnswer]:
    try:
        response = http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise _transport_error(exc, None) from exc
    try:
        if response.status_code >= 400:
            raise error_from_response(response, _read_error_body(response))
        yield ApiAnswer(response)
    finally:
        response.close()


def _read_error_body(response: httpx.Response) -> bytes:
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= ERROR_BODY_LIMIT_BYTES:
                break
    except httpx.HTTPError:
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
