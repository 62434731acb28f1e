"""Subtitles from character alignment: cues cut at speaker changes and sentence ends.

A cue never spans two turns (voice segments); it ends after a sentence's closing punctuation, or at
a space once it is long enough to fill two subtitle lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SENTENCE_ENDS = frozenset(".!?…")
MAX_CUE_CHARS = 84


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    voice_id: str | None = None


def cues_from_alignment(
    alignment: dict[str, Any], voice_segments: list[dict[str, Any]], max_chars: int = MAX_CUE_CHARS
) -> list[Cue]:
    """Cut the aligned characters into cues."""
    chars: list[str] = alignment.get("characters") or []
    starts: list[float] = alignment.get("character_start_times_seconds") or []
    ends: list[float] = alignment.get("character_end_times_seconds") or []
    turn_at = _turns(voice_segments, len(chars))
    cues: list[Cue] = []
    first = 0
    for i, char in enumerate(chars):
        last = i == len(chars) - 1
        next_turn = not last and turn_at[i + 1] != turn_at[i]
        sentence_ends = char in SENTENCE_ENDS and (last or chars[i + 1].isspace())
        too_long = char.isspace() and i - first >= max_chars
        if last or next_turn or sentence_ends or too_long:
            cue = _cue(chars, starts, ends, first, i, turn_at[first][1])
            if cue is not None:
                cues.append(cue)
            first = i + 1
    return cues


def _turns(voice_segments: list[dict[str, Any]], length: int) -> list[tuple[int, str | None]]:
    """Each character's voice segment (its index, from 0; -1 for none) and speaker."""
    turn: list[tuple[int, str | None]] = [(-1, None)] * length
    for n, segment in enumerate(voice_segments):
        low = max(0, int(segment.get("character_start_index", 0)))
        high = min(length, int(segment.get("character_end_index", 0)))
        for i in range(low, high):
            turn[i] = (n, segment.get("voice_id"))
    return turn


def _cue(
    chars: list[str],
    starts: list[float],
    ends: list[float],
    first: int,
    last: int,
    voice: str | None,
) -> Cue | None:
    visible = [i for i in range(first, last + 1) if not chars[i].isspace()]
    if not visible:
        return None
    text = "".join(chars[first : last + 1]).strip()
    return Cue(start_s=starts[visible[0]], end_s=ends[visible[-1]], text=text, voice_id=voice)


def _timestamp(seconds: float, separator: str) -> str:
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{n}\n{_timestamp(c.start_s, ',')} --> {_timestamp(c.end_s, ',')}\n{c.text}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    blocks = ["WEBVTT\n"]
    for c in cues:
        text = c.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        voice = f"<v {c.voice_id}>" if c.voice_id else ""
        blocks.append(
            f"{_timestamp(c.start_s, '.')} --> {_timestamp(c.end_s, '.')}\n{voice}{text}\n"
        )
    return "\n".join(blocks)
