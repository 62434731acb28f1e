"""From a stored job spec to its job model and its renderer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from audiobatch.errors import AudiobatchError
from audiobatch.manifest import JobSpec
from audiobatch.manifest.common import JobBase
from audiobatch.render.context import RenderContext
from audiobatch.render.dialogue import render_dialogue
from audiobatch.render.music import render_music, render_music_plan
from audiobatch.render.transform import render_stems, render_voice_change

_SPEC = TypeAdapter[Any](JobSpec)

RENDERERS: dict[str, Callable[[Any, RenderContext], None]] = {
    "dialogue": render_dialogue,
    "music": render_music,
    "music_plan": render_music_plan,
    "stems": render_stems,
    "voice_change": render_voice_change,
}


class UnrenderableJobError(AudiobatchError):
    """A stored job cannot be rendered by this version of audiobatch."""


def render_job(kind: str, job: JobBase, ctx: RenderContext) -> None:
    """Render one job (its stored spec parsed by :func:`parse_spec`), storing its outputs
    through ``ctx``."""
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise UnrenderableJobError(f"jobs of kind {kind!r} cannot be rendered by this version")
    renderer(job, ctx)


def parse_spec(spec: dict[str, Any]) -> JobBase:
    """The job model of a stored spec."""
    try:
        job: JobBase = _SPEC.validate_python(spec)
    except ValidationError as exc:
        raise UnrenderableJobError(f"stored job spec no longer validates: {exc}") from exc
    return job
