"""Subtitles are cut at speaker changes and sentence ends, and read back as valid SRT and VTT."""

from __future__ import annotations

import re

import pytest

from audiobatch.render.subtitles import cues_from_alignment, to_srt, to_vtt


def aligned(text: str, char_s: float = 0.1) -> dict[str, list]:
    return {
        "characters": list(text),
        "character_start_times_seconds": [i * char_s for i in range(len(text))],
        "character_end_times_seconds": [(i + 1) * char_s for i in range(len(text))],
    }


def segments(*spans: tuple[str, int, int]) -> list[dict]:
    return [
        {
            "voice_id": v,
            "character_start_index": a,
            "character_end_index": b,
            "dialogue_input_index": n,
        }
        for n, (v, a, b) in enumerate(spans)
    ]


def test_a_cue_never_spans_two_speakers() -> None:
    text = "Knock knock Who is there"
    cues = cues_from_alignment(aligned(text), segments(("host", 0, 12), ("guest", 12, len(text))))
    assert [(c.text, c.voice_id) for c in cues] == [
        ("Knock knock", "host"),
        ("Who is there", "guest"),
    ]


def test_sentences_end_cues() -> None:
    text = "Hello there. How are you? Fine!"
    cues = cues_from_alignment(aligned(text), segments(("a", 0, len(text))))
    assert [c.text for c in cues] == ["Hello there.", "How are you?", "Fine!"]


def test_long_sentences_are_cut_at_a_space() -> None:
    text = " ".join(["word"] * 60)
    cues = cues_from_alignment(aligned(text), segments(("a", 0, len(text))), max_chars=40)
    assert len(cues) > 1
    assert all(len(c.text) <= 45 for c in cues)
    assert " ".join(c.text for c in cues) == text


def test_cue_times_come_from_the_first_and_last_visible_characters() -> None:
    text = "Hi. Yo."
    cues = cues_from_alignment(aligned(text), [])
    assert (cues[1].start_s, cues[1].end_s) == pytest.approx((0.4, 0.7))


def test_srt_and_vtt_are_well_formed() -> None:
    text = "Hello <there>. Bye & thanks."
    cues = cues_from_alignment(aligned(text), segments(("v1", 0, len(text))))
    srt = to_srt(cues)
    assert re.fullmatch(
        r"(\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n[^\n]+\n\n?)+", srt
    ), srt
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.000 --> 00:00:01.400\n<v v1>Hello &lt;there&gt;." in vtt
