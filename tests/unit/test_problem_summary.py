"""Problems of one kind print as one line naming the other lines they are on, each once."""

from __future__ import annotations

from audiobatch.cli.problem_summary import summary_lines
from audiobatch.errors import Problem


def unknown_alias(line: int, job: int, turn: int) -> Problem:
    field = f"jobs[{job}].inputs[{turn}].voice"
    return Problem("m.jsonl", line, field, "unknown voice alias 'hots'")


def test_several_problems_on_one_line_name_that_line_once() -> None:
    problems = [unknown_alias(line, line, turn) for line in (4, 5) for turn in range(3)]
    line, hint = summary_lines(problems)
    assert line.startswith("m.jsonl:4: jobs[*].inputs[*].voice: unknown voice alias 'hots'")
    assert line.endswith("(6 times; also line 5)")
    assert hint.startswith("hint: give voice aliases with --voices")
