"""The ``music`` job (POST /v1/music, ``stream``, ``detailed``) and ``music_plan`` (POST /v1/music/plan).

A composition plan is either written out (:class:`MusicPrompt`, the API's v1 plan) or read from a
``music_plan`` job of the same manifest: ``composition_plan: {from: plan-job}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Discriminator, Field, Strict, Tag, model_validator

from audiobatch.elevenlabs.formats import DEFAULT_OUTPUT_FORMAT
from audiobatch.manifest.common import (
    JobBase,
    JobOutput,
    StrictBool,
    StrictModel,
    Text,
    between,
    max_chars,
    output_format_of,
    rule_error,
)
from audiobatch.manifest.loudness import OptionalLoudness, loudness_problem

MAX_PROMPT_CHARS = 4100
MAX_SECTIONS = 30
MAX_LINES = 30
MAX_LINE_CHARS = 200
MAX_STYLES = 50

MusicLengthMs = Annotated[int, Strict(), between(3_000, 600_000)]
SectionMs = Annotated[int, Strict(), between(3_000, 120_000)]
TimeMs = Annotated[int, Strict(), Field(ge=0)]
MusicSeed = Annotated[int, Strict(), between(0, 2_147_483_647)]
Prompt = Annotated[Text, max_chars(MAX_PROMPT_CHARS)]
Styles = Annotated[list[str], Field(max_length=MAX_STYLES)]
MusicModel = Annotated[str, Field(pattern=r"^music_v[0-9]+(_[0-9]+)*$")]
"""``music_v1`` (the API's default) or a later model such as ``music_v2``."""


class TimeRange(StrictModel):
    """A span of a stored song, in milliseconds."""

    start_ms: TimeMs
    end_ms: TimeMs

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_ms <= self.start_ms:
            raise rule_error("end_ms", "must be greater than start_ms")
        return self


class SectionSource(StrictModel):
    """Reuse part of a song stored for inpainting as this section."""

    song_id: Text
    range: TimeRange
    negative_ranges: list[TimeRange] | None = None


class SongSection(StrictModel):
    """One section of a v1 composition plan."""

    section_name: Text
    positive_local_styles: Styles
    negative_local_styles: Styles
    duration_ms: SectionMs
    lines: Annotated[list[Annotated[str, max_chars(MAX_LINE_CHARS)]], Field(max_length=MAX_LINES)]
    source_from: SectionSource | None = None


class MusicPrompt(StrictModel):
    """A composition plan as the API's v1 ``MusicPrompt``: global styles and up to 30 sections."""

    positive_global_styles: Styles
    negative_global_styles: Styles
    sections: Annotated[list[SongSection], Field(min_length=1, max_length=MAX_SECTIONS)]


def _plan_tag(value: Any) -> str:
    if isinstance(value, JobOutput) or (isinstance(value, dict) and "from" in value):
        return "from"
    return "plan"


PlanSource = Annotated[
    Annotated[JobOutput, Tag("from")] | Annotated[MusicPrompt, Tag("plan")],
    Discriminator(_plan_tag),
]
"""A written-out plan, or ``{from: job-id}`` naming a ``music_plan`` job."""


class MusicJob(JobBase):
    """Compose a song from a ``prompt`` or a ``composition_plan`` (exactly one of them)."""

    REFERENCES: ClassVar[Mapping[str, str]] = {"composition_plan": "plan"}
    NOT_SENT: ClassVar[frozenset[str]] = frozenset({"loudness"})
    SHAPES_OUTPUT: ClassVar[frozenset[str]] = frozenset({"loudness"})

    kind: Literal["music"] = "music"
    prompt: Prompt | None = None
    composition_plan: PlanSource | None = None
    music_length_ms: MusicLengthMs | None = None
    model_id: MusicModel | None = None
    seed: MusicSeed | None = None
    force_instrumental: StrictBool | None = None
    respect_sections_durations: StrictBool | None = None
    store_for_inpainting: StrictBool | None = None
    output_format: Annotated[str, AfterValidator(output_format_of("music"))] = DEFAULT_OUTPUT_FORMAT
    stream: StrictBool = False
    detailed: StrictBool = False
    loudness: OptionalLoudness = None  # the level the song is brought to once rendered

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (problem := loudness_problem(self.loudness, self.output_format)) is not None:
            raise rule_error("loudness", problem)
        if self.prompt is None and self.composition_plan is None:
            raise rule_error("prompt", "a music job needs a prompt or a composition_plan")
        if self.prompt is not None and self.composition_plan is not None:
            raise rule_error("composition_plan", "give a prompt or a composition_plan, not both")
        if self.music_length_ms is not None and self.prompt is None:
            raise rule_error(
                "music_length_ms",
                "only goes with a prompt: a composition_plan sets the length by its sections",
            )
        if self.seed is not None and self.prompt is not None:
            raise rule_error("seed", "cannot be used with a prompt, only with a composition_plan")
        if self.stream and self.detailed:
            raise rule_error("detailed", "stream and detailed cannot both be true")
        return self


class MusicPlanJob(JobBase):
    """Ask the API for a composition plan (free); its ``plan.json`` can feed a music job."""

    REFERENCES: ClassVar[Mapping[str, str]] = {"source_composition_plan": "plan"}

    kind: Literal["music_plan"] = "music_plan"
    prompt: Prompt
    music_length_ms: MusicLengthMs | None = None
    source_composition_plan: PlanSource | None = None
    model_id: MusicModel | None = None
