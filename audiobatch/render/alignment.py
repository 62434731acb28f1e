"""Gathering character alignment and voice segments from with-timestamps answers.

A streamed answer carries them in pieces, one per line; times are from the start of the whole audio.
An episode's alignment is its parts' alignments one after the other, each shifted to where the
part begins in the episode's audio.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CharacterTimes:
    characters: list[str] = field(default_factory=list)
    character_start_times_seconds: list[float] = field(default_factory=list)
    character_end_times_seconds: list[float] = field(default_factory=list)

    def extend(self, piece: Any) -> None:
        if not isinstance(piece, dict):
            return
        self.characters += piece.get("characters") or []
        self.character_start_times_seconds += piece.get("character_start_times_seconds") or []
        self.character_end_times_seconds += piece.get("character_end_times_seconds") or []

    def extend_shifted(self, piece: Any, offset_s: float) -> None:
        """Append ``piece`` with every time ``offset_s`` later."""
        if not isinstance(piece, dict):
            return
        starts = piece.get("character_start_times_seconds") or []
        ends = piece.get("character_end_times_seconds") or []
        self.extend(
            {
                "characters": piece.get("characters"),
                "character_start_times_seconds": [_shift(t, offset_s) for t in starts],
                "character_end_times_seconds": [_shift(t, offset_s) for t in ends],
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "character_start_times_seconds": self.character_start_times_seconds,
            "character_end_times_seconds": self.character_end_times_seconds,
        }


@dataclass
class Alignment:
    """The alignment, normalized alignment and voice segments of one dialogue."""

    alignment: CharacterTimes = field(default_factory=CharacterTimes)
    normalized_alignment: CharacterTimes = field(default_factory=CharacterTimes)
    voice_segments: list[dict[str, Any]] = field(default_factory=list)

    def add(self, chunk: dict[str, Any]) -> None:
        """Fold in one answer object (or one line of a streamed answer)."""
        self.alignment.extend(chunk.get("alignment"))
        self.normalized_alignment.extend(chunk.get("normalized_alignment"))
        for segment in chunk.get("voice_segments") or []:
            self._add_segment(segment)

    def add_part(self, part: dict[str, Any], offset_s: float, turns: Sequence[int]) -> None:
        """Append an episode part's ``alignment.json``: its times ``offset_s`` later (where the
        part begins in the episode), its voice segments' character indexes after the characters
        before it, and their ``dialogue_input_index`` the episode's (``turns[i]``: the episode
        input the part's input ``i`` comes from)."""
        before = len(self.alignment.characters)
        self.alignment.extend_shifted(part.get("alignment"), offset_s)
        self.normalized_alignment.extend_shifted(part.get("normalized_alignment"), offset_s)
        for segment in part.get("voice_segments") or []:
            index = segment.get("dialogue_input_index")
            shifted = dict(segment)
            shifted.update(
                start_time_seconds=_shift(segment.get("start_time_seconds", 0.0), offset_s),
                end_time_seconds=_shift(segment.get("end_time_seconds", 0.0), offset_s),
                character_start_index=int(segment.get("character_start_index", 0)) + before,
                character_end_index=int(segment.get("character_end_index", 0)) + before,
                dialogue_input_index=(
                    turns[index] if isinstance(index, int) and 0 <= index < len(turns) else index
                ),
            )
            self.voice_segments.append(shifted)

    def _add_segment(self, segment: dict[str, Any]) -> None:
        last = self.voice_segments[-1] if self.voice_segments else None
        if last is not None and _same_turn(last, segment):
            # a turn split across stream lines arrives as consecutive pieces: join them
            last["end_time_seconds"] = segment.get("end_time_seconds", last["end_time_seconds"])
            last["character_end_index"] = segment.get(
                "character_end_index", last["character_end_index"]
            )
            return
        self.voice_segments.append(dict(segment))

    def to_json(self, chapters: Sequence[dict[str, Any]] | None = None) -> bytes:
        """``alignment.json``; with ``chapters`` (placed on the audio) also under ``"chapters"``."""
        document: dict[str, Any] = {
            "alignment": self.alignment.as_dict(),
            "normalized_alignment": self.normalized_alignment.as_dict(),
            "voice_segments": self.voice_segments,
        }
        if chapters is not None:
            document["chapters"] = list(chapters)
        return json.dumps(document).encode()


def _shift(seconds: float, offset_s: float) -> float:
    return round(float(seconds) + offset_s, 6)


def _same_turn(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a.get("dialogue_input_index") == b.get("dialogue_input_index")
        and a.get("voice_id") == b.get("voice_id")
        and a.get("end_time_seconds") == b.get("start_time_seconds")
    )
