"""Jobs that transform existing audio: stem separation (a ZIP of stems) and voice changes."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from audiobatch.elevenlabs.formats import content_type, extension
from audiobatch.elevenlabs.stems import open_stems
from audiobatch.manifest import StemsJob, VoiceChangeJob
from audiobatch.render.context import RenderContext
from audiobatch.render.sources import source_upload

log = logging.getLogger(__name__)

VOICE_CHANGE_FIELDS = ("model_id", "seed", "remove_background_noise", "file_format")


def render_stems(job: StemsJob, ctx: RenderContext) -> None:
    """Upload the source, keep the ZIP in a temporary file, store one file per expected stem
    (entries that name none are left out, and logged)."""
    fmt = job.output_format
    with tempfile.NamedTemporaryFile(prefix="audiobatch-stems-", suffix=".zip") as archive_file:
        with (
            source_upload(job.source, ctx) as upload,
            ctx.client.stem_separation(
                upload, fmt, stem_variation_id=job.stem_variation_id
            ) as answer,
        ):
            ctx.answered(answer)
            for chunk in answer.iter_bytes():
                ctx.heartbeat()
                archive_file.write(chunk)
        archive_file.flush()
        with open_stems(Path(archive_file.name), ctx.limits) as stems:
            if stems.ignored:
                ignored = ", ".join(repr(name) for name in stems.ignored)
                ctx.notes.append(
                    f"stems ZIP entries that name no expected stem, not stored: {ignored}"
                )
                log.warning("job %s: %s", ctx.prefix, ctx.notes[-1])
            for entry in stems.entries:
                ctx.store(
                    f"{entry.stem}.{extension(fmt)}", stems.read_entry(entry), content_type(fmt)
                )


def render_voice_change(job: VoiceChangeJob, ctx: RenderContext) -> None:
    """Upload the source speech and store it spoken in the job's voice."""
    fields = {
        name: _form_value(value)
        for name, value in job.model_dump(
            mode="json", include=set(VOICE_CHANGE_FIELDS), exclude_none=True
        ).items()
    }
    if job.voice_settings is not None:
        fields["voice_settings"] = json.dumps(job.voice_settings.model_dump(exclude_none=True))
    fmt = job.output_format
    with source_upload(job.source, ctx) as upload:
        ctx.store_answer(ctx.client.speech_to_speech(job.voice, upload, fmt, fields), fmt)


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
