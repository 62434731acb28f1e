"""Output formats: which ``output_format`` values each endpoint family accepts, and what they produce.

Pure data and functions, no I/O. A format is named ``codec_samplerate[_bitrate]``
(``mp3_44100_128``, ``pcm_24000``, ``opus_48000_64``). The accepted sets follow the endpoints'
``output_format`` enums in the API reference; music also takes the music-only
``mp3_48000_{128,192,240,320}`` and ``auto``, its API default, which means ``mp3_44100_128`` for
``music_v1`` and ``mp3_48000_192`` for ``music_v2``: always MP3, at a sample rate that depends on
the model.

File extensions (design §5): ``mp3``, ``pcm`` (raw signed 16-bit little-endian mono, no header),
``ulaw``, ``alaw``, ``opus``. ``wav`` is understood by the functions below but accepted by no
family, since the API reference lists no ``wav_*`` value for these endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
"""The API's default for dialogue, stems and voice changes, and what music's ``auto`` means on v1."""

AUTO = "auto"
"""Music only: let the API choose the format for the model (always MP3)."""

COMMON_FORMATS: frozenset[str] = frozenset(
    {
        "mp3_22050_32",
        "mp3_24000_48",
        "mp3_44100_32",
        "mp3_44100_64",
        "mp3_44100_96",
        "mp3_44100_128",
        "mp3_44100_192",
        "pcm_8000",
        "pcm_16000",
        "pcm_22050",
        "pcm_24000",
        "pcm_32000",
        "pcm_44100",
        "pcm_48000",
        "ulaw_8000",
        "alaw_8000",
        "opus_48000_32",
        "opus_48000_64",
        "opus_48000_96",
        "opus_48000_128",
        "opus_48000_192",
    }
)
"""The enum shared by text-to-dialogue, music, stem separation and speech-to-speech."""

MUSIC_ONLY_FORMATS: frozenset[str] = frozenset(
    {"mp3_48000_128", "mp3_48000_192", "mp3_48000_240", "mp3_48000_320", AUTO}
)

DIALOGUE_FORMATS: frozenset[str] = COMMON_FORMATS
MUSIC_FORMATS: frozenset[str] = COMMON_FORMATS | MUSIC_ONLY_FORMATS
STEMS_FORMATS: frozenset[str] = COMMON_FORMATS
VOICE_CHANGE_FORMATS: frozenset[str] = COMMON_FORMATS

FORMATS_BY_FAMILY: Mapping[str, frozenset[str]] = {
    "dialogue": DIALOGUE_FORMATS,
    "music": MUSIC_FORMATS,
    "stems": STEMS_FORMATS,
    "voice_change": VOICE_CHANGE_FORMATS,
}
"""Accepted ``output_format`` values per endpoint family, keyed like the manifest's job kinds."""

_EXTENSIONS: Mapping[str, str] = {
    "mp3": "mp3",
    "pcm": "pcm",
    "ulaw": "ulaw",
    "alaw": "alaw",
    "opus": "opus",
    "wav": "wav",
}

RAW_SAMPLE_BYTES: Mapping[str, int] = {"pcm": 2, "ulaw": 1, "alaw": 1}
"""Bytes a sample of the headerless codecs: raw PCM is 16-bit, G.711 8-bit, all mono."""


def is_raw(output_format: str) -> bool:
    """Whether audio in this format is raw samples with no header (PCM, G.711): joined byte for
    byte when stitched, and played by a browser only behind a WAV header."""
    return codec(output_format) in RAW_SAMPLE_BYTES


_CONTENT_TYPES: Mapping[str, str] = {
    "mp3": "audio/mpeg",
    "pcm": "audio/pcm",  # raw s16le: no registered type describes it exactly
    "ulaw": "audio/basic",  # RFC 2046: 8-bit mu-law, 8 kHz, mono
    "alaw": "audio/x-alaw-basic",
    "opus": "audio/ogg",
    "wav": "audio/wav",
}


def codec(output_format: str) -> str:
    """The codec part of a format: ``mp3`` for ``mp3_44100_128`` and for ``auto``.

    Raises :class:`ValueError` for a value that is not a well-formed output format.
    """
    if output_format == AUTO:
        return "mp3"
    name, _, rest = output_format.partition("_")
    rate, _, bitrate = rest.partition("_")
    if name not in _EXTENSIONS or not rate.isdigit() or (bitrate and not bitrate.isdigit()):
        raise ValueError(f"not an output format: {output_format!r}")
    return name


def extension(output_format: str) -> str:
    """The file extension (without dot) of audio in this format: ``mp3``, ``pcm``, ``opus``...

    ``auto`` gives ``mp3``. Raises :class:`ValueError` for an unknown format.
    """
    return _EXTENSIONS[codec(output_format)]


def content_type(output_format: str) -> str:
    """The media type to store audio in this format under (``audio/mpeg`` for MP3 and ``auto``).

    Raises :class:`ValueError` for an unknown format.
    """
    return _CONTENT_TYPES[codec(output_format)]


def sample_rate_hz(output_format: str) -> int:
    """The sample rate of audio in this format, in Hz: 44100 for ``mp3_44100_128``.

    Raises :class:`ValueError` for an unknown format and for ``auto``, whose rate depends on the
    music model (44100 Hz for ``music_v1``, 48000 Hz for ``music_v2``).
    """
    if output_format == AUTO:
        raise ValueError("'auto' has no fixed sample rate: it depends on the music model")
    codec(output_format)
    return int(output_format.split("_")[1])


def raw_duration_s(output_format: str, size_bytes: int) -> float | None:
    """How long headerless audio (raw PCM, G.711) of ``size_bytes`` lasts; None for other codecs."""
    width = RAW_SAMPLE_BYTES.get(codec(output_format))
    return None if width is None else size_bytes / (sample_rate_hz(output_format) * width)


def bitrate_duration_s(output_format: str, size_bytes: int) -> float | None:
    """About how long encoded audio (MP3, Opus) of ``size_bytes`` lasts at its format's bitrate;
    None for a format without one (raw codecs, ``auto``)."""
    if output_format == AUTO:
        return None
    codec(output_format)
    parts = output_format.split("_")
    return size_bytes * 8 / (int(parts[2]) * 1000) if len(parts) > 2 else None


def is_accepted(family: str, output_format: str) -> bool:
    """Whether the endpoint family (``dialogue``, ``music``, ``stems``, ``voice_change``) takes it."""
    return output_format in FORMATS_BY_FAMILY.get(family, frozenset())


def sorted_formats(formats: frozenset[str]) -> list[str]:
    """Formats in a readable order: by codec, then sample rate, then bitrate; ``auto`` last."""

    def key(value: str) -> tuple[int, str, int, int]:
        if value == AUTO:
            return (1, "", 0, 0)
        parts = value.split("_")
        bitrate = int(parts[2]) if len(parts) > 2 else 0
        return (0, parts[0], int(parts[1]), bitrate)

    return sorted(formats, key=key)
