"""``--help`` in a pipe at 80 columns: each command's summary flows as one paragraph, whatever
the line breaks of the docstring it comes from, and says every word of it."""

from __future__ import annotations

import inspect
import re
from itertools import pairwise

import pytest
import typer.main
from typer.testing import CliRunner

from audiobatch.cli.main import app

FRAME = re.compile(r"[│╭╮╰╯─]")


def summaries() -> dict[str, str]:
    """Each command's first paragraph, its line breaks made spaces."""
    return {
        name: " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())
        for name, command in typer.main.get_group(app).commands.items()
    }


def commands_panel(text: str) -> list[tuple[str, str]]:
    """The commands panel's rows: (command name or "", the rest of the line)."""
    start = text.index("Commands")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("╰"):
            break
        inner = FRAME.sub("", line).rstrip()
        rows.append((inner[:11].strip(), inner[11:].strip()))
    return rows


def test_the_command_list_at_80_columns_fills_its_lines_and_keeps_every_word() -> None:
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}, terminal_width=80).output
    rows = commands_panel(shown)
    described: dict[str, list[str]] = {}
    for name, text in rows:
        if name:
            described[name] = []
        described[list(described)[-1]].append(text)
    for name, summary in summaries().items():
        lines = described[name]
        assert " ".join(lines).replace("`", "") == summary.replace("`", ""), name
        # a line is broken only where the next word would not fit, not where the docstring was
        for line, following in pairwise(lines):
            assert len(line) + 1 + len(following.split()[0]) > 64, (name, lines)


@pytest.mark.parametrize("command", ["download", "status", "prune"])
def test_a_commands_own_help_keeps_every_word_of_its_summary(command: str) -> None:
    shown = CliRunner().invoke(app, [command, "--help"], terminal_width=80).output
    flowing = " ".join(FRAME.sub(" ", shown).split())
    assert summaries()[command].replace("`", "") in flowing.replace("`", "")
