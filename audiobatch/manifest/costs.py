"""What a job asks the API to generate, read from its stored spec: the characters of its text and
the milliseconds of music.

The API bills speech by the characters of its text (the ``character-cost`` header says what it
charged, where it is sent) and music by its length. A job's spec is the JSON it is stored as
(``job.model_dump(mode="json", by_alias=True)``), so the same reading serves an estimate from a
manifest and a cost from a job row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MS_PER_MINUTE = 60_000


def text_characters(kind: str, spec: Mapping[str, Any]) -> int:
    """The characters of a job's text that the API bills (dialogue: every input's text)."""
    if kind != "dialogue":
        return 0
    return sum(len(line.get("text", "")) for line in spec.get("inputs", []))


def music_ms(kind: str, spec: Mapping[str, Any]) -> int | None:
    """The length of the music a job composes: its ``music_length_ms``, or the sum of its written
    plan's sections; 0 for a job that composes none; None when the API or another job's plan
    decides the length."""
    if kind != "music":
        return 0
    if spec.get("music_length_ms") is not None:
        return int(spec["music_length_ms"])
    plan = spec.get("composition_plan")
    if isinstance(plan, Mapping) and isinstance(plan.get("sections"), list):
        return sum(int(section.get("duration_ms", 0)) for section in plan["sections"])
    return None


def minutes(ms: int) -> float:
    """Milliseconds as minutes, to a hundredth."""
    return round(ms / MS_PER_MINUTE, 2)
