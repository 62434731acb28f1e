"""The closest known name, for messages about an unknown one."""

from __future__ import annotations

from audiobatch.suggestions import did_you_mean, listed


def test_the_closest_name_is_suggested_letter_case_aside() -> None:
    assert did_you_mean("europe/berlin", ["Europe/Berlin", "Europe/Bern"]) == (
        " (did you mean 'Europe/Berlin'?)"
    )
    assert did_you_mean("dialog", ["dialogue", "music"]) == " (did you mean 'dialogue'?)"


def test_nothing_is_suggested_when_no_name_is_close() -> None:
    assert did_you_mean("zzz", ["dialogue", "music"]) == ""
    assert did_you_mean("host", []) == ""


def test_a_long_list_shows_its_first_names_and_how_many_in_all() -> None:
    assert listed(["b", "a"]) == "a, b"
    assert listed([f"v{n:02d}" for n in range(12)], most=3) == "v00, v01, v02, ... (12 in all)"
