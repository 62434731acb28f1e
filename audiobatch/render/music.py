"""Music jobs: compose (plain, streamed or detailed) and composition plans.

A detailed answer is multipart/mixed: its audio streams into ``audio.<ext>`` and its JSON part
(composition plan, song metadata) becomes ``metadata.json``. A plan job stores ``plan.json``.
"""

from __future__ import annotations

import json
from typing import Any

from audiobatch.elevenlabs.multipart import DetailedMusic, read_detailed
from audiobatch.manifest import JobOutput, MusicJob, MusicPlanJob, PlanSource
from audiobatch.render.context import RenderContext
from audiobatch.render.sources import parent_plan

MUSIC_FIELDS = (
    "prompt",
    "music_length_ms",
    "model_id",
    "seed",
    "force_instrumental",
    "respect_sections_durations",
    "store_for_inpainting",
)
PLAN_FIELDS = ("prompt", "music_length_ms", "model_id")


def _plan(plan: PlanSource | None, ctx: RenderContext) -> dict[str, Any] | None:
    if plan is None:
        return None
    if isinstance(plan, JobOutput):
        return parent_plan(plan, ctx)
    return plan.model_dump(mode="json", exclude_none=True)


def render_music(job: MusicJob, ctx: RenderContext) -> None:
    body = job.model_dump(mode="json", include=set(MUSIC_FIELDS), exclude_none=True)
    plan = _plan(job.composition_plan, ctx)
    if plan is not None:
        body["composition_plan"] = plan
    fmt = job.output_format
    client = ctx.client
    if not job.detailed:
        call = client.music_stream if job.stream else client.music
        ctx.store_answer(call(body, fmt), fmt, job.loudness)
        return
    with client.music_detailed(body, fmt) as answer:
        ctx.answered(answer)
        info = DetailedMusic()
        audio = read_detailed(
            answer.iter_bytes(), answer.content_type, info, ctx.limits.max_json_bytes
        )
        ctx.store_audio(audio, fmt, job.loudness)
    metadata = dict(info.metadata)
    song_id = answer.headers.get("song-id")
    if song_id:
        metadata["song_id"] = song_id
    ctx.store("metadata.json", [json.dumps(metadata, indent=2).encode()], "application/json")


def render_music_plan(job: MusicPlanJob, ctx: RenderContext) -> None:
    body = job.model_dump(mode="json", include=set(PLAN_FIELDS), exclude_none=True)
    source = _plan(job.source_composition_plan, ctx)
    if source is not None:
        body["source_composition_plan"] = source
    with ctx.client.music_plan(body) as answer:
        ctx.answered(answer)
        plan = answer.read_json(ctx.limits.max_json_bytes)
    ctx.store("plan.json", [json.dumps(plan, indent=2).encode()], "application/json")
