"""The tables the CLI prints: drawn with rich, or with ``--plain`` as tab-separated lines.

A key column (a batch id, a job key, a worker id, a schedule's name) is never cut: the other
columns wrap to make room, and where even that cannot fit the console (80 columns in a pipe) the
table is drawn wider than the console rather than cut a key. ``--plain`` prints a header line and
one record a line, fields separated by tabs, with no colours and no box drawing: for ``cut`` and
``awk``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
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
        for cells in [list(sheet.columns), *sheet.rows]:
            console.file.write("\t".join(_plain(cell) for cell in cells) + "\n")
        return
    texts = [[Text.from_markup(cell) for cell in row] for row in sheet.rows]
    key_widths = {
        index: max([len(name), *(text.cell_len for text in (row[index] for row in texts))])
        for index, name in enumerate(sheet.columns)
        if name in sheet.keys
    }
    table = Table(
        *(
            Column(name, width=key_widths[index], no_wrap=True)
            if index in key_widths
            else Column(name, overflow="fold")
            for index, name in enumerate(sheet.columns)
        ),
        caption=sheet.caption,
    )
    for row in texts:
        table.add_row(*row)
    others = len(sheet.columns) - len(key_widths)
    needed = sum(key_widths.values()) + others * OTHER_MIN_WIDTH + CELL_EDGES * len(sheet.columns)
    if needed + 1 <= console.width:
        console.print(table)
        return
    lines = console.render_lines(table, console.options.update_width(needed + 1), new_lines=True)
    console.print(Segments(segment for line in lines for segment in line), crop=False)


def _plain(cell: str) -> str:
    return _BLANKS.sub(" ", Text.from_markup(cell).plain).strip()
