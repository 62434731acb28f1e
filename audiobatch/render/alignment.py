"""Gathering character alignment and voice segments from with-timestamps answers.

A streamed answer carries them in pieces, one per line; times are from the start of the whole audio.
"""

from __future__ import annotations

import json
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

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "alignment": self.alignment.as_dict(),
                "normalized_alignment": self.normalized_alignment.as_dict(),
                "voice_segments": self.voice_segments,
            }
        ).encode()


def _same_turn(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a.get("dialogue_input_index") == b.get("dialogue_input_index")
        and a.get("voice_id") == b.get("voice_id")
        and a.get("end_time_seconds") == b.get("start_time_seconds")
    )
