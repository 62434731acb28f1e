"""Building blocks shared by the job models: the strict base, constrained scalars, voices, sources.

Validation may be given a context (``model_validate(..., context=...)``, see
:func:`validation_context`): the manifest's voice aliases, the folder relative source paths are
read from, whether local source files must exist, and where sources may come from (see
:mod:`audiobatch.manifest.confinement`). Without a context (a stored spec read back by a worker),
raw voice ids and absolute paths validate as they are and files are not looked at.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeGuard

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from audiobatch.elevenlabs.formats import FORMATS_BY_FAMILY, sorted_formats
from audiobatch.manifest.confinement import local_problem, s3_problem
from audiobatch.suggestions import did_you_mean, listed

JOB_ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
BATCH_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
# A batch name and a job id each name a folder of the storage keys
# ``<batch>/<batch id>/<job id>[/part-001]/<file>`` (a Linux file name holds 255 bytes, an S3 key
# 1024 in all) and are kept in columns of 200 characters: ``batches.name``, where a schedule's
# batches add ``-YYYY-MM-DD``, and ``jobs.key``, where an episode's parts add ``/part-001``.
# Both patterns are ASCII, so characters are bytes.
MAX_BATCH_NAME_CHARS = 100
MAX_JOB_ID_CHARS = 100
DATED_SUFFIX_CHARS = len("-2026-03-29")
VOICE_ID_PATTERN = r"[A-Za-z0-9]{20}"
ALIAS_PATTERN = r"[A-Za-z0-9_.-]+"

AUDIO_KINDS: frozenset[str] = frozenset({"dialogue", "music", "voice_change"})
"""Kinds whose output is one audio file another job can read (``source: {from: ...}``)."""
PLAN_KINDS: frozenset[str] = frozenset({"music_plan"})
"""Kinds whose output is a composition plan (``composition_plan: {from: ...}``)."""
PROVIDERS: Mapping[str, frozenset[str]] = {"audio": AUDIO_KINDS, "plan": PLAN_KINDS}

RULE_ERROR = "manifest_rule"
"""Error type of a rule that ties fields together; its ``ctx["field"]`` names the field to blame."""


def rule_error(field: str, message: str) -> PydanticCustomError:
    """An error for a rule across fields, located at ``field`` by the loader."""
    return PydanticCustomError(RULE_ERROR, message, {"field": field})


def validation_context(
    voices: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    *,
    check_files: bool = True,
    source_roots: Sequence[Path] | None = None,
    source_buckets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The context the loader validates jobs with: aliases, source folder, file checks, and the
    resolved folders and the buckets sources may come from (None: not confined)."""
    return {
        "voices": dict(voices or {}),
        "base_dir": base_dir,
        "check_files": check_files,
        "source_roots": source_roots,
        "source_buckets": source_buckets,
    }


class StrictModel(BaseModel):
    """Base of every manifest model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


# ---- constrained scalars ---------------------------------------------------------------------


def between(low: float, high: float) -> AfterValidator:
    """A validator keeping a number within ``low..high`` (inclusive)."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return AfterValidator(check)


def max_chars(limit: int) -> AfterValidator:
    """A validator keeping a string at most ``limit`` characters long."""

    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters, not {len(value)}")
        return value

    return AfterValidator(check)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def name_problem(value: str, pattern: str, what: str, max_chars: int) -> str | None:
    """What is wrong with ``value`` as a name (a batch name, a job id), or None."""
    if len(value) > max_chars:
        return (
            f"{what} of {len(value)} characters is too long: at most {max_chars}"
            " (it names a folder in storage)"
        )
    if not _compiled(pattern).fullmatch(value):
        return f"{what} {value!r} must match {pattern}"
    return None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def is_job_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a well-formed job id."""
    return (
        isinstance(value, str) and name_problem(value, JOB_ID_PATTERN, "", MAX_JOB_ID_CHARS) is None
    )


def _name(pattern: str, what: str, max_chars: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = name_problem(value, pattern, what, max_chars)
        if problem is not None:
            raise ValueError(problem)
        return value

    return check


StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
Text = Annotated[str, AfterValidator(_not_blank)]
"""A string that is not empty or only whitespace."""
JobId = Annotated[str, AfterValidator(_name(JOB_ID_PATTERN, "job id", MAX_JOB_ID_CHARS))]
BatchName = Annotated[
    str,
    AfterValidator(_name(BATCH_PATTERN, "batch name", MAX_BATCH_NAME_CHARS + DATED_SUFFIX_CHARS)),
]
"""A stored batch's name: a manifest's (see ``validate``: at most MAX_BATCH_NAME_CHARS), or a
schedule's batch, named after the manifest's and its slot's date."""
Seed = Annotated[int, Strict(), between(0, 4_294_967_295)]
"""The dialogue and voice-changer seed range."""
Unit = Annotated[float, between(0.0, 1.0)]


def output_format_of(family: str) -> Callable[[str], str]:
    """A validator accepting the ``output_format`` values of one endpoint family."""
    accepted = FORMATS_BY_FAMILY[family]
    listed = ", ".join(sorted_formats(accepted))

    def check(value: str) -> str:
        if value not in accepted:
            raise ValueError(
                f"unknown output format {value!r} for {family} jobs; expected one of {listed}"
            )
        return value

    return check


# ---- voices ------------------------------------------------------------------------------------

_VOICE_ID = re.compile(VOICE_ID_PATTERN)
UNKNOWN_VOICE_ALIAS = "unknown voice alias"
"""How the problem of a voice that is neither an alias nor a voice id begins."""


def is_voice_id(value: str) -> bool:
    """Whether ``value`` has the shape of a raw ElevenLabs voice id (20 letters and digits)."""
    return _VOICE_ID.fullmatch(value) is not None


def _resolve_voice(value: str, info: ValidationInfo) -> str:
    voices: Mapping[str, str] = (info.context or {}).get("voices") or {}
    if value in voices:
        return voices[value]
    if is_voice_id(value):
        return sys.intern(value)  # a few voices speak thousands of lines: keep one copy of each
    defined = f"aliases defined: {listed(voices)}" if voices else "no voice aliases are defined"
    raise ValueError(f"{UNKNOWN_VOICE_ALIAS} {value!r}{did_you_mean(value, voices)}; {defined}")


VoiceRef = Annotated[str, AfterValidator(_resolve_voice)]
"""A voice alias (resolved through the context's ``voices``) or a raw voice id; stored as the id."""


# ---- sources -----------------------------------------------------------------------------------


class JobOutput(StrictModel):
    """Another job's output in the same manifest, written ``{from: job-id}``: a dependency."""

    from_: JobId = Field(alias="from")


class LocalFile(StrictModel):
    """A file on this machine, written as a path; stored absolute, serialized as that path.

    A relative path is read from the manifest's folder. At load time the file must be inside the
    source roots (links resolved), and then exist.
    """

    path: Path

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            if "://" in data:
                scheme = data.split("://", 1)[0]
                raise ValueError(
                    f"unsupported source URL scheme {scheme!r}: use a local path, "
                    "s3://bucket/key or {from: job-id}"
                )
            if not data.strip():
                raise ValueError("must not be empty")
            return {"path": data}
        return data

    @field_validator("path")
    @classmethod
    def _absolute_existing(cls, value: Path, info: ValidationInfo) -> Path:
        context = info.context or {}
        path = value.expanduser()
        if not path.is_absolute():
            base = context.get("base_dir")
            path = (Path(base) if base is not None else Path.cwd()) / path
        path = Path(os.path.normpath(path))
        roots = context.get("source_roots")
        if roots is not None and (problem := local_problem(path, roots)):
            raise ValueError(problem)
        if context.get("check_files"):
            if not path.exists():
                raise ValueError(f"no such file: {path}")
            if not path.is_file():
                raise ValueError(f"not a file: {path}")
        return path

    @model_serializer
    def _as_string(self) -> str:
        return str(self.path)


_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class S3Object(StrictModel):
    """An object in S3 (or an S3-compatible store), written and serialized as ``s3://bucket/key``."""

    bucket: str
    key: str

    @model_validator(mode="before")
    @classmethod
    def _from_uri(cls, data: Any) -> Any:
        if isinstance(data, str):
            bucket, _, key = data.removeprefix("s3://").partition("/")
            return {"bucket": bucket, "key": key}
        return data

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _S3_BUCKET.fullmatch(value):
            raise ValueError(f"invalid S3 bucket name {value!r}")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value or value.endswith("/"):
            raise ValueError(f"an S3 source needs an object key, not {value!r}")
        return value

    @model_validator(mode="after")
    def _allowed(self, info: ValidationInfo) -> S3Object:
        problem = s3_problem(self.bucket, self.key, (info.context or {}).get("source_buckets"))
        if problem:
            raise ValueError(problem)
        return self

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    @model_serializer
    def _as_uri(self) -> str:
        return self.uri


def _source_tag(value: Any) -> str | None:
    if isinstance(value, JobOutput):
        return "from"
    if isinstance(value, LocalFile):
        return "path"
    if isinstance(value, S3Object):
        return "s3"
    if isinstance(value, str):
        return "s3" if value.startswith("s3://") else "path"
    if isinstance(value, dict):
        if "from" in value:
            return "from"
        if "bucket" in value or "key" in value:
            return "s3"
        if "path" in value:
            return "path"
    return None


Source = Annotated[
    Annotated[JobOutput, Tag("from")]
    | Annotated[LocalFile, Tag("path")]
    | Annotated[S3Object, Tag("s3")],
    Discriminator(
        _source_tag,
        custom_error_type="source_type",
        custom_error_message="expected {from: job-id}, a local file path or s3://bucket/key",
    ),
]
"""Input audio: another job's output (:class:`JobOutput`), a :class:`LocalFile` or an :class:`S3Object`."""


# ---- jobs --------------------------------------------------------------------------------------


class JobBase(StrictModel):
    """What every job has: an ``id`` unique in its manifest, and its dependencies."""

    REFERENCES: ClassVar[Mapping[str, str]] = {}
    """Fields that may read another job's output (``{from: id}``), and what they need from it:
    ``"audio"`` or ``"plan"`` (see :data:`PROVIDERS`)."""
    NOT_SENT: ClassVar[frozenset[str]] = frozenset()
    """Fields that shape how audiobatch renders the job and never reach the API: a job that
    differs from another only in them sends the same request."""
    SHAPES_OUTPUT: ClassVar[frozenset[str]] = frozenset()
    """Fields of ``NOT_SENT`` that still change the stored outputs (``loudness``): a job that
    sets one does not reuse the outputs of a job that sets it otherwise."""

    id: JobId

    def dependencies(self) -> list[str]:
        """The ids of the jobs whose outputs this job reads, in field order."""
        found: list[str] = []
        for name in self.REFERENCES:
            value = getattr(self, name)
            if isinstance(value, JobOutput):
                found.append(value.from_)
        return found
