"""The CLI's tables at a console's width: keys whole, other columns wrapped between words where
there is room for every column's longest word, folded only where there is not."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from audiobatch.cli.tables import OTHER_MIN_WIDTH, Sheet, column_widths, show


def drawn(sheet: Sheet, width: int) -> list[str]:
    out = io.StringIO()
    show(Console(file=out, width=width, color_system=None), sheet)
    return out.getvalue().splitlines()


def batch_list() -> Sheet:
    sheet = Sheet(
        ("id", "name", "status", "jobs", "cost", "backend", "created"), keys=frozenset({"id"})
    )
    sheet.add("387c2145a9c2", "demo", "succeeded", "4 succeeded", "307 chars", "emulator",
              "2026-12-05 01:08 UTC")  # fmt: skip
    return sheet


def test_at_80_columns_no_word_is_cut_and_no_line_is_wider() -> None:
    lines = drawn(batch_list(), 80)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    for word in ("387c2145a9c2", "succeeded", "chars", "emulator", "2026-12-05", "01:08"):
        assert word in text, text
    assert text.count("succeeded") == 2


def test_with_room_to_spare_every_cell_is_on_one_line() -> None:
    assert len(drawn(batch_list(), 120)) == 5  # top, header, rule, the row, bottom


def test_two_columns_short_fold_the_longest_word_and_keep_the_statuses_whole() -> None:
    sheet = batch_list()
    sheet.rows[0][3] = "116 succeeded, 12 failed"
    sheet.rows[0][5] = "api.elevenlabs.io"
    text = "\n".join(drawn(sheet, 80))
    assert text.count("succeeded") == 2 and "failed" in text and "2026-12-05" in text, text
    assert "api.elevenlabs.io" not in text  # the longest word is the one folded, alone


def test_too_narrow_for_whole_words_folds_them_but_keeps_the_key_whole() -> None:
    lines = drawn(batch_list(), 40)
    assert "387c2145a9c2" in "\n".join(lines)
    assert "succeeded" not in "\n".join(lines)  # folded: "succ", "eede", "d"


@given(
    st.lists(st.tuples(st.integers(1, 60), st.integers(1, 60), st.booleans()), min_size=1,
             max_size=9),
    st.integers(0, 200),
)  # fmt: skip
def test_widths_keep_keys_whole_stay_within_full_and_fill_the_room(
    columns: list[tuple[int, int, bool]], room: int
) -> None:
    full = [whole for whole, _, _ in columns]
    words = [min(word, whole) for whole, word, _ in columns]
    keys = {index for index, (_, _, key) in enumerate(columns) if key}
    widths = column_widths(full, words, keys, room)
    assert all(widths[index] == full[index] for index in keys)
    assert all(width <= whole for width, whole in zip(widths, full, strict=True))
    others = [index for index in range(len(full)) if index not in keys]
    whole = sum(full[i] for i in keys) + sum(words[i] for i in others) <= room
    least = sum(full[i] for i in keys) + sum(min(words[i], OTHER_MIN_WIDTH) for i in others)
    assert sum(widths) == (min(room, sum(full)) if least <= room else least)
    if whole:
        assert all(widths[index] >= words[index] for index in others)
    else:  # the columns with the longest words fold, each kept one's words no longer
        cut = [index for index in others if widths[index] < words[index]]
        kept = [index for index in others if widths[index] >= words[index]]
        assert all(words[k] <= words[c] for c in cut for k in kept)
