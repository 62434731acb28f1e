"""The tables the CLI prints: drawn with rich, or with ``--plain`` as tab-separated lines.

A key column (a batch id, a job key, a worker id, a schedule's name) is never cut: the other
columns wrap to make room, between words (a status, a date stay whole) as far as the console
has room for each column's longest word, else folding the longest words first; where even that
cannot fit the console (80 columns in a pipe) the table is drawn wider than the console rather
than cut a key. ``--plain`` prints a header line and one record a line, fields separated by
tabs, with no colours and no box drawing: for ``cut`` and ``awk``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segments
from rich.table import Column, Table
from rich.text import Text

PlainFlag = Annotated[
    bool,
    typer.Option(
        "--plain", help="Tab-separated lines with a header: no colours, no boxes, never cut."
    ),
]

OTHER_MIN_WIDTH = 4
"""The fewest characters a column that is no key is left, before the table goes wider."""
CELL_EDGES = 3  # a column's padding (one each side) and its border
_BLANKS = re.compile(r"[\t\r\n]+")


@dataclass
class Sheet:
    """Rows of cells (rich markup) under ``columns``; ``keys`` name the columns never cut."""

    columns: Sequence[str]
    keys: frozenset[str] = frozenset()
    caption: str | None = None
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(list(cells))


def show(console: Console, sheet: Sheet, *, plain: bool = False) -> None:
    """Print ``sheet``: a rich table, or with ``plain`` tab-separated lines with a header."""
    if plain:
        # written as they are: rich would expand the tabs into spaces
        for record in [list(sheet.columns), *sheet.rows]:
            console.file.write("\t".join(_plain(cell) for cell in record) + "\n")
        return
    texts = [[Text.from_markup(cell) for cell in row] for row in sheet.rows]
    cells: list[list[str]] = [
        [name, *(row[index].plain for row in texts)] for index, name in enumerate(sheet.columns)
    ]
    keys = {index for index, name in enumerate(sheet.columns) if name in sheet.keys}
    widths = column_widths(
        full=[max(cell_len(cell) for cell in column) for column in cells],
        words=[max(cell_len(word) for cell in column for word in cell.split()) for column in cells],
        keys=keys,
        room=console.width - CELL_EDGES * len(sheet.columns) - 1,
    )
    table = Table(
        *(
            Column(name, width=width, no_wrap=index in keys, overflow="fold")
            for index, (name, width) in enumerate(zip(sheet.columns, widths, strict=True))
        ),
        caption=sheet.caption,
    )
    for row in texts:
        table.add_row(*row)
    width = sum(widths) + CELL_EDGES * len(sheet.columns) + 1
    if width <= console.width:
        console.print(table)
        return
    lines = console.render_lines(table, console.options.update_width(width), new_lines=True)
    console.print(Segments(segment for line in lines for segment in line), crop=False)


def column_widths(full: list[int], words: list[int], keys: set[int], room: int) -> list[int]:
    """Each column's width, given its ``full`` width (its longest cell), its longest word, and the
    ``room`` the console leaves: keys get their full width; the others their longest word (so
    that they wrap between words) or, where the room is short of that, the column with the
    longest words gives up what is missing, down to OTHER_MIN_WIDTH, then the next (only their
    words are folded); what room is left goes, in equal shares, to the columns not yet full.
    The sum is over ``room`` only where the keys and those least widths alone are."""
    others = [index for index in range(len(full)) if index not in keys]
    widths = list(full)
    for index in others:
        widths[index] = min(full[index], words[index])
    short = sum(widths) - room
    for index in sorted(others, key=lambda i: -widths[i]):  # one folding column, not several
        cut = max(0, min(short, widths[index] - OTHER_MIN_WIDTH))
        widths[index] -= cut
        short -= cut
    spare = room - sum(widths)
    growing = [index for index in others if widths[index] < full[index]]
    while spare > 0 and growing:
        share = max(1, spare // len(growing))
        for index in sorted(growing, key=lambda i: full[i] - widths[i]):
            grown = min(share, full[index] - widths[index], spare)
            widths[index] += grown
            spare -= grown
        growing = [index for index in growing if widths[index] < full[index]]
    return widths


def _plain(cell: str) -> str:
    return _BLANKS.sub(" ", Text.from_markup(cell).plain).strip()
