"""The ``loudness`` setting of a job (or, through ``defaults``, of a batch): the level its audio
is brought to after it is rendered, measured as ITU-R BS.1770 (EBU R128) loudness.

``podcast`` aims at -16 LUFS integrated with true peak at most -1 dBTP; ``audiobook`` at ACX's
rules (RMS between -23 and -18 dB, peaks at most -3 dB, noise floor at most -60 dB); ``none``
leaves the audio as the API made it; ``{integrated_lufs, true_peak_db}`` names a level of one's
own. Loudness applies to MP3 and Opus outputs: raw PCM and G.711 are refused (a telephone line or
a further mixing step sets their level).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Tag

from audiobatch.elevenlabs.formats import is_raw
from audiobatch.manifest.common import StrictModel, between

MIN_INTEGRATED_LUFS = -36.0
MAX_INTEGRATED_LUFS = -9.0
"""Targets from a quiet broadcast mix (-36) to a loud music master (-9): anything else is a typo."""
MIN_TRUE_PEAK_DB = -9.0
MAX_TRUE_PEAK_DB = 0.0

PRESETS = ("podcast", "audiobook")


class LoudnessLevels(StrictModel):
    """A level of one's own: integrated loudness and the true-peak ceiling."""

    integrated_lufs: Annotated[float, between(MIN_INTEGRATED_LUFS, MAX_INTEGRATED_LUFS)]
    true_peak_db: Annotated[float, between(MIN_TRUE_PEAK_DB, MAX_TRUE_PEAK_DB)]


def _none_is_unset(value: Any) -> Any:
    return None if value == "none" else value


def _loudness_tag(value: Any) -> str:
    return "preset" if isinstance(value, str) else "levels"


Loudness = Annotated[
    Annotated[Literal["podcast", "audiobook"], Tag("preset")]
    | Annotated[LoudnessLevels, Tag("levels")],
    Discriminator(_loudness_tag),
]
"""``podcast``, ``audiobook`` or :class:`LoudnessLevels`."""

OptionalLoudness = Annotated[Loudness | None, BeforeValidator(_none_is_unset)]
"""A job's ``loudness``: ``none`` (or no setting) leaves the audio as rendered."""


def loudness_problem(loudness: Loudness | None, output_format: str) -> str | None:
    """Why ``loudness`` cannot apply to audio in ``output_format``, or None."""
    if loudness is not None and is_raw(output_format):
        return (
            f"loudness applies to mp3 and opus outputs, not to raw {output_format}: "
            "set loudness: none or choose an mp3_ or opus_ output_format"
        )
    return None
