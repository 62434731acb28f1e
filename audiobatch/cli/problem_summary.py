"""A manifest's problems as the CLI prints them: problems of one kind (the same message at the
same field of many jobs or rows) on one line, located at the first, with their count and next
lines; at most :data:`MOST_LINES` kinds, the rest counted (``validate --json`` lists them all)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from audiobatch.errors import Problem
from audiobatch.manifest.common import UNKNOWN_VOICE_ALIAS

MOST_LINES = 20
"""Kinds of problem printed; the others are counted in one last line."""
FIRST_LINES = 5
"""Lines named on a kind's line after its first."""
VOICES_HINT = (
    "hint: give voice aliases with --voices FILE.yaml (alias: voice id per line) "
    "or --voices alias=VOICE_ID, repeatable"
)
_INDEX = re.compile(r"\[[^\]]*\]")


@dataclass
class ProblemKind:
    """Problems with the same message, in the same file, at the same field of any job or item."""

    file: str
    pattern: str
    message: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        first = self.problems[0]
        if len(self.problems) == 1:
            return str(first)
        seen = [p.line for p in self.problems if p.line is not None]
        lines = [str(line) for line in dict.fromkeys(seen) if line != first.line]
        also = ", ".join(lines[:FIRST_LINES]) + (", ..." if len(lines) > FIRST_LINES else "")
        where = f"; also {'lines' if len(lines) > 1 else 'line'} {also}" if lines else ""
        kind = Problem(self.file, first.line, self.pattern, self.message)
        return f"{kind} ({len(self.problems)} times{where})"


def problem_kinds(problems: Sequence[Problem]) -> list[ProblemKind]:
    """``problems`` grouped by file, message and field (jobs' and items' indexes as ``[*]``), in
    the order each kind first appears."""
    kinds: dict[tuple[str, str, str], ProblemKind] = {}
    for problem in problems:
        pattern = _INDEX.sub("[*]", problem.field)
        key = (problem.file, pattern, problem.message)
        kinds.setdefault(key, ProblemKind(*key)).problems.append(problem)
    return list(kinds.values())


def summary_lines(problems: Sequence[Problem]) -> list[str]:
    """The lines that say what ``problems`` are, at most :data:`MOST_LINES` kinds, then how many
    more, then a hint where one helps."""
    kinds = problem_kinds(problems)
    lines = [str(kind) for kind in kinds[:MOST_LINES]]
    rest = kinds[MOST_LINES:]
    if rest:
        count = sum(len(kind.problems) for kind in rest)
        lines.append(
            f"... and {count} more problem(s) of {len(rest)} other kind(s); "
            "`audiobatch validate --json` lists every one"
        )
    if any(p.message.startswith(UNKNOWN_VOICE_ALIAS) for p in problems):
        lines.append(VOICES_HINT)
    return lines
