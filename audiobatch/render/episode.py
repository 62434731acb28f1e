"""Episodes: the job that joins the outputs of its parts into the episode's own (design §5).

An episode's parts are ordinary dialogue jobs (``<episode>/part-001``, ...) rendered through the
limiter like any other; the episode depends on them and, once they have all succeeded, stitches
their audio into ``audio.<ext>`` (see :mod:`audiobatch.render.stitch`) and, with timestamps,
their alignments into one ``alignment.json`` with subtitles covering the whole episode; its
chapters are placed on the stitched alignment and written into the joined file before it is
stored. Stitching calls no API.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import av

from audiobatch.db.outputs import StoredArtifact
from audiobatch.elevenlabs.formats import extension, is_raw
from audiobatch.manifest import DialogueJob
from audiobatch.manifest.common import JobBase
from audiobatch.manifest.episodes import Part, episode_parts, part_key
from audiobatch.render.alignment import Alignment
from audiobatch.render.chapters import ChapterMark, chapter_marks, write_chapters
from audiobatch.render.context import RenderContext
from audiobatch.render.dialogue import store_timestamps
from audiobatch.render.loudness import normalise
from audiobatch.render.sources import copy_stored, pick_output, read_stored, read_stored_json
from audiobatch.render.stitch import Timeline, join_encoded, join_raw, joined_frames


def as_episode(job: JobBase) -> DialogueJob | None:
    """The job, if it stitches parts rather than calling the API; else None."""
    if isinstance(job, DialogueJob) and episode_parts(job) is not None:
        return job
    return None


def render_episode(job: DialogueJob, ctx: RenderContext) -> None:
    """Stitch the stored outputs of the episode's parts into the episode's outputs."""
    parts = episode_parts(job) or []
    keys = [part_key(job.id, number) for number in range(1, len(parts) + 1)]
    stored = [ctx.parent_artifacts(key) for key in keys]
    audio = [
        pick_output(outputs, key, ("audio.",)) for key, outputs in zip(keys, stored, strict=True)
    ]
    fmt = job.output_format
    timeline = Timeline.of(fmt, job.part_pause_ms)
    if is_raw(fmt):
        chunks = (read_stored(ctx.storage, a.key, f"the audio of {a.key}") for a in audio)
        ctx.store_audio(join_raw(chunks, fmt, timeline), fmt)
        alignment, marks = _timed(job, ctx, parts, keys, stored, timeline)
    else:
        with tempfile.TemporaryDirectory(prefix="audiobatch-episode-") as folder:
            target = Path(folder) / f"episode.{extension(fmt)}"
            if job.loudness is None:
                join_encoded(_local_files(ctx, audio, Path(folder)), fmt, timeline, target)
            else:

                def joined() -> Iterator[av.AudioFrame]:
                    timeline.part_samples.clear()  # each pass notes the parts anew
                    return joined_frames(_local_files(ctx, audio, Path(folder)), timeline)

                ctx.store_loudness(normalise(joined, fmt, target, job.loudness, ctx.heartbeat))
            alignment, marks = _timed(job, ctx, parts, keys, stored, timeline)
            if marks is not None:
                write_chapters(target, fmt, marks)
            ctx.store_audio_file(target, fmt)
    if alignment is not None:
        store_timestamps(alignment, ctx, marks)


def _timed(
    job: DialogueJob,
    ctx: RenderContext,
    parts: Sequence[Part],
    keys: Sequence[str],
    stored: Sequence[list[StoredArtifact]],
    timeline: Timeline,
) -> tuple[Alignment | None, list[ChapterMark] | None]:
    """The episode's alignment, with timestamps, and its chapters placed on the joined audio."""
    if not job.timestamps:
        return None, None
    alignment = _merged_alignment(ctx, parts, keys, stored, timeline)
    if job.chapters is None:
        return alignment, None
    return alignment, chapter_marks(job.chapters, alignment.voice_segments, timeline.duration_s())


def _merged_alignment(
    ctx: RenderContext,
    parts: Sequence[Part],
    keys: Sequence[str],
    stored: Sequence[list[StoredArtifact]],
    timeline: Timeline,
) -> Alignment:
    merged = Alignment()
    for part, key, outputs, start_s in zip(parts, keys, stored, timeline.starts_s(), strict=True):
        artifact = pick_output(outputs, key, ("alignment.json",))
        alignment = read_stored_json(ctx.storage, artifact.key, f"the alignment of {key}")
        merged.add_part(alignment, start_s, [line.turn for line in part.lines])
    return merged


def _local_files(
    ctx: RenderContext, audio: Sequence[StoredArtifact], folder: Path
) -> Iterator[Path]:
    """Each part's audio as a file on this machine, one at a time: the store's own file where it
    is local, else a copy that is removed once the next part is wanted."""
    for artifact in audio:
        ctx.heartbeat()
        local = ctx.storage.local_path(artifact.key)
        if local is not None:
            yield local
            continue
        copy = folder / f"part.{artifact.name.rsplit('.', 1)[-1]}"
        copy_stored(ctx.storage, artifact.key, copy, f"the audio of {artifact.key}")
        yield copy
        copy.unlink()
