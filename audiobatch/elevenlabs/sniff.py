"""Is a 200 answer what was asked? Judged from its Content-Type and its first bytes.

Each endpoint says what its body must be (:class:`Expected`): audio in the requested output format,
a ZIP, multipart/mixed, JSON or newline-delimited JSON. Before any of the body goes anywhere, its
first :data:`HEAD_BYTES` (or the whole body, when shorter) are checked:

- an error body (JSON starting with the API's ``detail`` or ``status`` where JSON was asked, any
  JSON where binary was asked; an HTML page; a textual Content-Type where binary was asked) is
  :func:`is_error_body`: the caller reads it and classifies it like any other API error;
- anything else must start as its format does (:func:`mismatch`): MP3 with a frame sync or an
  ID3 tag, Opus with ``OggS``, WAV with ``RIFF....WAVE``, a ZIP with a local file header,
  multipart with ``--`` and its boundary, JSON with ``{``; an empty body fits nothing. Raw PCM and
  G.711 have no header: they only have to be neither JSON nor HTML (the first check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audiobatch.elevenlabs.formats import DEFAULT_OUTPUT_FORMAT, codec
from audiobatch.elevenlabs.multipart import boundary_of

HEAD_BYTES = 128
"""Bytes needed to judge a body: enough for a multipart boundary (at most 70 characters)."""

TEXT_TYPES = ("application/json", "application/problem+json", "text/")
_ERROR_JSON = re.compile(rb'^\{\s*"(detail|status)"\s*:')  # the API's error shapes
_HTML = re.compile(rb"^<(!doctype|html|head|body|\?xml|title|h1)", re.IGNORECASE)
_MAGIC = {"opus": b"OggS", "zip": b"PK\x03\x04"}
_HEADERLESS = frozenset({"pcm", "ulaw", "alaw"})
TEXT_PROBE_BYTES = 32  # a JSON body is printable text throughout; raw PCM seldom is for long


@dataclass(frozen=True)
class Expected:
    """What a successful answer's body must be: ``kind`` is ``audio`` (in ``output_format``),
    ``zip``, ``multipart``, ``json`` or ``ndjson``."""

    kind: str
    output_format: str = DEFAULT_OUTPUT_FORMAT

    @classmethod
    def audio(cls, output_format: str | None) -> Expected:
        """Audio in ``output_format`` (the API's default, MP3, when None)."""
        return cls("audio", output_format or DEFAULT_OUTPUT_FORMAT)

    @property
    def family(self) -> str:
        """``mp3``, ``opus``, ``pcm``, ... for audio; the kind itself otherwise."""
        return codec(self.output_format) if self.kind == "audio" else self.kind

    @property
    def is_json(self) -> bool:
        return self.kind in ("json", "ndjson")


def is_error_body(expected: Expected, content_type: str, head: bytes) -> bool:
    """Whether a 200's body is an error (to be read and classified), judged by its start."""
    start = head.lstrip()
    if _HTML.match(start) or _media_type(content_type) == "text/html":
        return True
    if expected.is_json:
        return bool(_ERROR_JSON.match(start))
    if _media_type(content_type).startswith(TEXT_TYPES):
        return True
    # raw PCM may start with any byte: JSON is told apart from it by being text throughout
    return start[:1] in (b"{", b"[") and _is_text(start[:TEXT_PROBE_BYTES])


def mismatch(expected: Expected, content_type: str, head: bytes) -> str | None:
    """What is wrong with a 200's start for what was asked; None when it fits. A multipart
    Content-Type without a boundary raises :class:`~audiobatch.errors.ApiTransportError`."""
    media_type = _media_type(content_type)
    family = expected.family
    if not head:
        return "an empty body"
    if family == "multipart":
        if not media_type.startswith("multipart/"):
            return f"{content_type or 'no Content-Type'} where multipart/mixed was asked"
        if not head.startswith(b"--" + boundary_of(content_type).encode()):
            return f"a body that does not start with its boundary: {head[:16]!r}"
        return None
    if expected.is_json and media_type and "json" not in media_type:
        return f"{content_type} where JSON was asked"
    if family in _HEADERLESS or _fits(family, head):
        return None
    return f"a body starting {head[:8]!r} where {_asked(expected)} was asked"


def _fits(family: str, head: bytes) -> bool:
    if family == "mp3":
        return head.startswith(b"ID3") or (
            len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
        )
    if family == "wav":
        return head.startswith(b"RIFF") and head[8:12] == b"WAVE"
    if family in ("json", "ndjson"):
        return head.lstrip().startswith(b"{")
    return head.startswith(_MAGIC[family])


def _asked(expected: Expected) -> str:
    return expected.output_format if expected.kind == "audio" else expected.kind.upper()


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_text(data: bytes) -> bool:
    return all(32 <= byte < 127 or byte in b"\t\r\n" for byte in data)
