"""What one answer may hold, or inflate to, and how long its speech must last; set once from the
settings and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MIB = 1 << 20


@dataclass(frozen=True)
class AnswerLimits:
    """The most a JSON answer, and a stems ZIP unpacked, may take.

    ``max_stem_ratio`` bounds an entry's inflated size over its compressed size once it has
    inflated past :data:`audiobatch.elevenlabs.stems.RATIO_GRACE_BYTES`: a ZIP bomb is thousands of
    times smaller than what it inflates to, while encoded audio barely compresses.
    """

    max_json_bytes: int = 64 * MIB
    max_zip_entries: int = 16
    max_stem_bytes: int = 256 * MIB
    max_stems_bytes: int = 1024 * MIB
    max_stem_ratio: float = 500.0


DEFAULT_FASTEST_CPS = 25.0
"""Characters a second: brisk speech is 15 to 20; no model's normal output passes 25."""
TRUNCATED_BELOW = 1 / 3
"""Audio shorter than this share of the shortest plausible duration is cut short."""


@dataclass(frozen=True)
class SpeechRates:
    """The fastest speech each model produces, in characters per second."""

    fastest_cps: float = DEFAULT_FASTEST_CPS
    fastest_cps_by_model: Mapping[str, float] = field(default_factory=dict)

    def least_duration_s(self, model_id: str, characters: int) -> float:
        """The shortest duration a whole answer for ``characters`` may have."""
        fastest = self.fastest_cps_by_model.get(model_id, self.fastest_cps)
        return characters / fastest * TRUNCATED_BELOW
