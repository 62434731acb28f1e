"""Chapters of a dialogue: their times from the alignment, written into the audio.

A chapter begins where the first voice segment of its turn (``dialogue_input_index``) begins, the
one at turn 0 at the very start, and ends where the next chapter begins, the last where the audio
ends. MP3 gets ID3v2 ``CHAP`` frames (``ch001``, ...) and one top-level ordered ``CTOC`` frame
listing them; Ogg Opus gets the comments ``CHAPTER001=HH:MM:SS.mmm`` and ``CHAPTER001NAME=title``.
Raw formats (PCM, G.711) hold no tags: their chapters are in ``alignment.json`` and
``metadata.json`` only, as every format's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutagen.id3 import CHAP, CTOC, ID3, TIT2, CTOCFlags, ID3NoHeaderError
from mutagen.oggopus import OggOpus

from audiobatch.elevenlabs.formats import codec
from audiobatch.manifest.dialogue import Chapter

TAGGED_CODECS = frozenset({"mp3", "opus"})
"""The codecs whose files carry chapters in their tags."""


@dataclass(frozen=True)
class ChapterMark:
    """A chapter placed on the audio."""

    title: str
    turn: int
    start_s: float
    end_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "turn": self.turn,
            "start_seconds": round(self.start_s, 6),
            "end_seconds": round(self.end_s, 6),
        }


def chapter_marks(
    chapters: Sequence[Chapter], voice_segments: Sequence[Mapping[str, Any]], duration_s: float
) -> list[ChapterMark]:
    """Each chapter with its start and end in audio lasting ``duration_s``."""
    starts = [_turn_start_s(chapter.turn, voice_segments, duration_s) for chapter in chapters]
    ends = [*starts[1:], duration_s]
    return [
        ChapterMark(chapter.title, chapter.turn, start, max(start, end))
        for chapter, start, end in zip(chapters, starts, ends, strict=True)
    ]


def is_tagged(output_format: str) -> bool:
    """Whether files of this format carry their chapters."""
    return codec(output_format) in TAGGED_CODECS


def write_chapters(path: Path, output_format: str, marks: Sequence[ChapterMark]) -> None:
    """Write the chapters into the tags of the audio file at ``path`` (MP3 or Ogg Opus)."""
    if codec(output_format) == "mp3":
        _write_id3(path, marks)
    else:
        _write_opus_comments(path, marks)


def _turn_start_s(turn: int, segments: Sequence[Mapping[str, Any]], duration_s: float) -> float:
    if turn == 0:
        return 0.0
    # a turn with no segment of its own (nothing spoken) begins where the next spoken one does
    later = [
        float(segment.get("start_time_seconds", 0.0))
        for segment in segments
        if isinstance(segment.get("dialogue_input_index"), int)
        and segment["dialogue_input_index"] >= turn
    ]
    return min(min(later, default=duration_s), duration_s)


def _write_id3(path: Path, marks: Sequence[ChapterMark]) -> None:
    try:
        tags = ID3(str(path))
    except ID3NoHeaderError:
        tags = ID3()
    ids = [f"ch{number:03d}" for number in range(1, len(marks) + 1)]
    tags.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[],
        )
    )
    for element_id, mark in zip(ids, marks, strict=True):
        tags.add(
            CHAP(
                element_id=element_id,
                start_time=round(mark.start_s * 1000),
                end_time=round(mark.end_s * 1000),
                start_offset=0xFFFFFFFF,  # no byte offsets: times only
                end_offset=0xFFFFFFFF,
                sub_frames=[TIT2(encoding=3, text=[mark.title])],
            )
        )
    tags.save(str(path), v2_version=4)


def _write_opus_comments(path: Path, marks: Sequence[ChapterMark]) -> None:
    audio = OggOpus(str(path))
    assert audio.tags is not None  # an Ogg Opus stream always has its comment header
    for number, mark in enumerate(marks, 1):
        audio.tags[f"CHAPTER{number:03d}"] = [_clock(mark.start_s)]
        audio.tags[f"CHAPTER{number:03d}NAME"] = [mark.title]
    audio.save()


def _clock(seconds: float) -> str:
    """``HH:MM:SS.mmm``, the form chapter comments take."""
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
