"""The ``dialogue`` job: POST /v1/text-to-dialogue (plain, ``stream``, ``timestamps`` or both)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    field_validator,
    model_serializer,
    model_validator,
)

from audiobatch.elevenlabs.formats import DEFAULT_OUTPUT_FORMAT
from audiobatch.manifest.common import (
    JobBase,
    Seed,
    StrictBool,
    StrictModel,
    Text,
    Unit,
    VoiceRef,
    between,
    output_format_of,
    rule_error,
)
from audiobatch.manifest.loudness import OptionalLoudness, loudness_problem

MAX_VOICES = 10
"""The API takes at most 10 different voice ids in one dialogue request."""
MAX_DICTIONARIES = 3
MAX_REQUEST_CHARS = 5000
"""eleven_v3's limit on the text of one request: no part may be longer."""
MIN_PART_CHARS = 100
MAX_PART_PAUSE_MS = 10_000


class DialogueInput(StrictModel):
    """One line of the dialogue: ``{voice: alias-or-id, text: ...}``; ``voice`` is stored as the id."""

    voice: VoiceRef
    text: Text

    @property
    def voice_id(self) -> str:
        """The resolved voice id (the API's ``voice_id``)."""
        return self.voice


class DialogueSettings(StrictModel):
    """The request's ``settings``: only ``stability`` (0..1) for dialogue."""

    stability: Unit | None = None


class PronunciationDictionaryLocator(StrictModel):
    """One pronunciation dictionary (and optionally its version) to apply."""

    pronunciation_dictionary_id: Text
    version_id: str | None = None


class Chapter(StrictModel):
    """A chapter of the dialogue: ``title``, beginning with the input at index ``turn`` (from 0)."""

    turn: Annotated[int, Strict(), Field(ge=0)]
    title: Text


def _at_least_one(inputs: list[DialogueInput]) -> list[DialogueInput]:
    if not inputs:
        raise ValueError("a dialogue job needs at least one input")
    return inputs


class DialogueJob(JobBase):
    """Render a multi-voice dialogue into one audio file (and alignment with ``timestamps``)."""

    NOT_SENT: ClassVar[frozenset[str]] = frozenset({"part_chars", "part_pause_ms", "loudness"})
    SHAPES_OUTPUT: ClassVar[frozenset[str]] = frozenset({"loudness"})

    kind: Literal["dialogue"] = "dialogue"
    inputs: Annotated[list[DialogueInput], AfterValidator(_at_least_one)]
    model_id: Text | None = None
    output_format: Annotated[str, AfterValidator(output_format_of("dialogue"))] = (
        DEFAULT_OUTPUT_FORMAT
    )
    seed: Seed | None = None
    language_code: Text | None = None
    settings: DialogueSettings | None = None
    pronunciation_dictionary_locators: (
        Annotated[list[PronunciationDictionaryLocator], Field(max_length=MAX_DICTIONARIES)] | None
    ) = None
    apply_text_normalization: Literal["auto", "on", "off"] | None = None
    stream: StrictBool = False
    timestamps: StrictBool = False
    # an episode longer than one request is rendered in parts of at most part_chars characters
    # (see manifest.episodes) and stitched with part_pause_ms of silence between two parts
    part_chars: Annotated[int, Strict(), between(MIN_PART_CHARS, MAX_REQUEST_CHARS)] | None = None
    part_pause_ms: Annotated[int, Strict(), between(0, MAX_PART_PAUSE_MS)] = 0
    # titles at turns: written into the audio (MP3, Opus), alignment.json and metadata.json, with
    # times from the alignment (see render.chapters)
    chapters: Annotated[list[Chapter], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _chapters_fit(self) -> DialogueJob:
        if self.chapters is None:
            return self
        if not self.timestamps:
            raise rule_error(
                "chapters", "chapters take their times from the alignment: set timestamps: true"
            )
        turns = [chapter.turn for chapter in self.chapters]
        for number, turn in enumerate(turns):
            if turn >= len(self.inputs):
                raise rule_error(
                    "chapters",
                    f"chapter {number} ({self.chapters[number].title!r}) is at turn {turn}, but"
                    f" the job has {len(self.inputs)} inputs: turns are 0 to {len(self.inputs) - 1}",
                )
            if number and turn <= turns[number - 1]:
                raise rule_error(
                    "chapters",
                    f"chapter {number} is at turn {turn}, not after the chapter before it"
                    f" (turn {turns[number - 1]}): list chapters in order, one a turn",
                )
        return self

    @model_serializer(mode="wrap")
    def _without_unset_chapters(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a job without chapters dumps (and so fingerprints) as it did before they existed
        data: dict[str, Any] = handler(self)
        if data.get("chapters") is None:
            data.pop("chapters", None)
        return data

    # the level the audio is brought to once rendered (an episode's once stitched, not its parts')
    loudness: OptionalLoudness = None

    @field_validator("apply_text_normalization", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `on`/`off` as a boolean: take it as the user meant it.
        if value is True:
            return "on"
        if value is False:
            return "off"
        return value

    @model_validator(mode="after")
    def _loudness_fits_format(self) -> Self:
        problem = loudness_problem(self.loudness, self.output_format)
        if problem is not None:
            raise rule_error("loudness", problem)
        return self
