"""Jobs that transform existing audio: ``stems`` (POST /v1/music/stem-separation, a ZIP) and
``voice_change`` (POST /v1/speech-to-speech/{voice_id}).

Their ``source`` is a :data:`~audiobatch.manifest.common.Source`: another job's audio
(``{from: job-id}``), a local file or ``s3://bucket/key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from audiobatch.elevenlabs.formats import DEFAULT_OUTPUT_FORMAT
from audiobatch.manifest.common import (
    JobBase,
    Seed,
    Source,
    StrictBool,
    StrictModel,
    Text,
    Unit,
    VoiceRef,
    output_format_of,
)


class StemsJob(JobBase):
    """Separate a song into stems: two (vocals, instrumental) or six (the API's default)."""

    REFERENCES: ClassVar[Mapping[str, str]] = {"source": "audio"}

    kind: Literal["stems"] = "stems"
    source: Source
    stem_variation_id: Literal["two_stems_v1", "six_stems_v1"] = "six_stems_v1"
    output_format: Annotated[str, AfterValidator(output_format_of("stems"))] = DEFAULT_OUTPUT_FORMAT


class VoiceSettings(StrictModel):
    """Voice settings for the voice changer; sent to the API as a JSON string."""

    stability: Unit | None = None
    similarity_boost: Unit | None = None
    style: Unit | None = None
    use_speaker_boost: StrictBool | None = None
    speed: Annotated[float, Field(gt=0)] | None = None


class VoiceChangeJob(JobBase):
    """Re-voice recorded speech with another voice."""

    REFERENCES: ClassVar[Mapping[str, str]] = {"source": "audio"}

    kind: Literal["voice_change"] = "voice_change"
    voice: VoiceRef
    source: Source
    model_id: Text | None = None
    voice_settings: VoiceSettings | None = None
    seed: Seed | None = None
    remove_background_noise: StrictBool | None = None
    file_format: Literal["pcm_s16le_16", "other"] | None = None
    output_format: Annotated[str, AfterValidator(output_format_of("voice_change"))] = (
        DEFAULT_OUTPUT_FORMAT
    )

    @property
    def voice_id(self) -> str:
        """The resolved voice id (the endpoint's ``{voice_id}``)."""
        return self.voice
