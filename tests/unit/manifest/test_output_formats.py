"""Output formats: what each endpoint family accepts, and the files they make."""

from __future__ import annotations

import pytest

from audiobatch.elevenlabs.formats import (
    COMMON_FORMATS,
    DIALOGUE_FORMATS,
    FORMATS_BY_FAMILY,
    MUSIC_FORMATS,
    content_type,
    extension,
    is_accepted,
    sample_rate_hz,
    sorted_formats,
)


@pytest.mark.parametrize(
    ("output_format", "ext", "media_type", "rate_hz"),
    [
        ("mp3_44100_128", "mp3", "audio/mpeg", 44100),
        ("mp3_22050_32", "mp3", "audio/mpeg", 22050),
        ("mp3_48000_320", "mp3", "audio/mpeg", 48000),
        ("pcm_24000", "pcm", "audio/pcm", 24000),
        ("ulaw_8000", "ulaw", "audio/basic", 8000),
        ("alaw_8000", "alaw", "audio/x-alaw-basic", 8000),
        ("opus_48000_64", "opus", "audio/ogg", 48000),
    ],
)
def test_each_format_names_its_extension_media_type_and_sample_rate(
    output_format: str, ext: str, media_type: str, rate_hz: int
) -> None:
    assert extension(output_format) == ext
    assert content_type(output_format) == media_type
    assert sample_rate_hz(output_format) == rate_hz


def test_every_accepted_format_has_an_extension_and_a_media_type() -> None:
    for formats in FORMATS_BY_FAMILY.values():
        for output_format in formats:
            assert extension(output_format) in {"mp3", "pcm", "ulaw", "alaw", "opus"}
            assert content_type(output_format).startswith("audio/")


def test_music_auto_is_stored_as_mp3_but_has_no_fixed_sample_rate() -> None:
    assert extension("auto") == "mp3"
    assert content_type("auto") == "audio/mpeg"
    with pytest.raises(ValueError, match="auto"):
        sample_rate_hz("auto")


def test_music_alone_takes_the_48_khz_mp3_formats_and_auto() -> None:
    assert is_accepted("music", "mp3_48000_192")
    assert is_accepted("music", "auto")
    for family in ("dialogue", "stems", "voice_change"):
        assert not is_accepted(family, "mp3_48000_192")
        assert not is_accepted(family, "auto")


def test_every_family_takes_the_shared_enum_of_21_formats() -> None:
    assert len(COMMON_FORMATS) == 21
    for formats in FORMATS_BY_FAMILY.values():
        assert formats >= COMMON_FORMATS
    assert {
        "mp3_48000_128",
        "mp3_48000_192",
        "mp3_48000_240",
        "mp3_48000_320",
        "auto",
    } == MUSIC_FORMATS - DIALOGUE_FORMATS


@pytest.mark.parametrize("bad", ["", "mp3", "flac_44100", "mp3_fast_128", "pcm_24000_x", "wav"])
def test_a_malformed_format_is_refused_rather_than_guessed(bad: str) -> None:
    with pytest.raises(ValueError):
        extension(bad)
    with pytest.raises(ValueError):
        sample_rate_hz(bad)


def test_formats_sort_by_codec_rate_and_bitrate_with_auto_last() -> None:
    assert sorted_formats(frozenset({"auto", "mp3_44100_128", "mp3_22050_32", "alaw_8000"})) == [
        "alaw_8000",
        "mp3_22050_32",
        "mp3_44100_128",
        "auto",
    ]
