"""Streaming reader of the multipart/mixed answer of /v1/music/detailed.

The answer is a JSON part (composition plan and song metadata) followed by an audio part. The
audio is handed on chunk by chunk as it arrives, without the closing boundary, so it can stream
straight into storage. A body that ends before its closing boundary, or that lacks either part, is
an :class:`ApiTransportError`: the answer was cut short or malformed, and may be better next time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from python_multipart.multipart import MultipartParser, MultipartState

from audiobatch.errors import AnswerTooLargeError, ApiTransportError


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type header."""
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ApiTransportError(f"multipart answer without a boundary: {content_type!r}")
    return boundary


@dataclass
class DetailedMusic:
    """What the JSON part said; filled in while the audio streams."""

    metadata: dict[str, Any] = field(default_factory=dict)
    audio_content_type: str | None = None
    audio_filename: str | None = None


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    headers_done: bool = False
    body: bytearray = field(default_factory=bytearray)


class _Reader:
    def __init__(self, boundary: str, max_json_bytes: int) -> None:
        self.max_json_bytes = max_json_bytes
        self.parts: list[_Part] = []
        self.audio: list[bytes] = []
        self._field = b""
        self._value = b""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_part_data": self._data,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    @property
    def finished(self) -> bool:
        return bool(self._parser.state == MultipartState.END)

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except AnswerTooLargeError:
            raise
        except Exception as exc:  # the parser's own errors: a malformed body
            raise ApiTransportError(f"malformed multipart answer: {exc}") from exc

    def _begin(self) -> None:
        self.parts.append(_Part())

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self.parts[-1].headers[self._field.decode("latin-1").lower()] = self._value.decode(
            "latin-1"
        )
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        self.parts[-1].headers_done = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1]
        if len(self.parts) == 1:
            part.body += data[start:end]
            if len(part.body) > self.max_json_bytes:
                raise AnswerTooLargeError(
                    f"multipart answer: the JSON part is larger than {self.max_json_bytes} bytes"
                )
        else:
            self.audio.append(bytes(data[start:end]))


def read_detailed(
    chunks: Iterable[bytes], content_type: str, into: DetailedMusic, max_json_bytes: int
) -> Iterator[bytes]:
    """Yield the audio part's bytes; ``into`` gets the JSON part's content as soon as it is known
    (a JSON part beyond ``max_json_bytes`` is an :class:`AnswerTooLargeError`). The boundary is
    read from ``content_type`` once the first chunk has come, so that whatever the source of
    ``chunks`` says about the body's start is heard first."""
    rest = iter(chunks)
    first = next(rest, b"")
    reader = _Reader(boundary_of(content_type), max_json_bytes)
    for chunk in itertools.chain([first], rest):
        reader.feed(chunk)
        if len(reader.parts) >= 2 and reader.parts[1].headers_done and not into.metadata:
            _take_json(reader.parts[0], into)
            into.audio_content_type = reader.parts[1].headers.get("content-type")
            into.audio_filename = _filename(reader.parts[1].headers.get("content-disposition", ""))
        while reader.audio:
            yield reader.audio.pop(0)
    if not reader.finished:
        raise ApiTransportError("multipart answer ended before its closing boundary")
    if len(reader.parts) < 2:
        raise ApiTransportError("multipart answer lacks its audio part")
    if not into.metadata:
        _take_json(reader.parts[0], into)


def _take_json(part: _Part, into: DetailedMusic) -> None:
    if "json" not in part.headers.get("content-type", ""):
        raise ApiTransportError("multipart answer: the first part is not JSON")
    try:
        value = json.loads(part.body)
    except ValueError as exc:
        raise ApiTransportError("multipart answer: the JSON part does not parse") from exc
    if not isinstance(value, dict):
        raise ApiTransportError("multipart answer: the JSON part is not an object")
    into.metadata = value
    part.body = bytearray()  # parsed: the raw bytes need not be held beside it


def _filename(disposition: str) -> str | None:
    message = Message()
    message["content-disposition"] = disposition
    name = message.get_param("filename", header="content-disposition")
    return name if isinstance(name, str) else None
