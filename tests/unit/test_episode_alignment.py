"""An episode's alignment: its parts' alignments in a row, each shifted to where the part begins."""

from __future__ import annotations

from typing import Any

from audiobatch.render.alignment import Alignment
from audiobatch.render.subtitles import cues_from_alignment


def part(text: str, voices: list[tuple[str, int, int]], char_s: float = 0.1) -> dict[str, Any]:
    times = {
        "characters": list(text),
        "character_start_times_seconds": [round(i * char_s, 3) for i in range(len(text))],
        "character_end_times_seconds": [round((i + 1) * char_s, 3) for i in range(len(text))],
    }
    segments = [
        {
            "voice_id": voice,
            "start_time_seconds": first * char_s,
            "end_time_seconds": last * char_s,
            "character_start_index": first,
            "character_end_index": last,
            "dialogue_input_index": n,
        }
        for n, (voice, first, last) in enumerate(voices)
    ]
    return {"alignment": times, "normalized_alignment": times, "voice_segments": segments}


def test_parts_are_shifted_by_the_audio_before_them_and_map_to_the_episodes_turns() -> None:
    merged = Alignment()
    merged.add_part(part("Hi. Yo.", [("A", 0, 3), ("B", 4, 7)]), 0.0, [0, 1])
    merged.add_part(part("Go on.", [("B", 0, 6)]), 1.25, [1])  # the rest of turn 1
    merged.add_part(part("Bye.", [("C", 0, 4)]), 2.5, [2])
    starts = merged.alignment.character_start_times_seconds
    ends = merged.alignment.character_end_times_seconds
    assert "".join(merged.alignment.characters) == "Hi. Yo.Go on.Bye."
    assert starts == sorted(starts) and all(s < e for s, e in zip(starts, ends, strict=True))
    assert (starts[7], starts[13], ends[-1]) == (1.25, 2.5, 2.9)
    assert merged.normalized_alignment.character_start_times_seconds == starts
    assert [
        (
            s["voice_id"],
            s["dialogue_input_index"],
            s["character_start_index"],
            s["start_time_seconds"],
        )
        for s in merged.voice_segments
    ] == [("A", 0, 0, 0.0), ("B", 1, 4, 0.4), ("B", 1, 7, 1.25), ("C", 2, 13, 2.5)]
    cues = cues_from_alignment(merged.alignment.as_dict(), merged.voice_segments)
    assert [(c.text, c.voice_id, c.start_s) for c in cues] == [
        ("Hi.", "A", 0.0), ("Yo.", "B", 0.4), ("Go on.", "B", 1.25), ("Bye.", "C", 2.5),
    ]  # fmt: skip
