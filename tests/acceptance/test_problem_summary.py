"""Many problems of one kind read as one line each, with what helps fix them."""

from __future__ import annotations

import json
from pathlib import Path

from audiobatch.cli.problem_summary import MOST_LINES
from tests.acceptance.cli import audiobatch, clean_environment

HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"


def season(rows: int) -> str:
    """A CSV season whose rows name, in turn, ``hots``, ``gust`` and ``host``."""
    voices = ["hots", "gust", "host"]
    lines = [f"ep{n % 3},{voices[n % 3]},Line {n}." for n in range(rows)]
    return "episode,voice,text\n" + "\n".join(lines) + "\n"


def test_three_hundred_unknown_aliases_print_one_line_each_with_a_count(tmp_path: Path) -> None:
    (tmp_path / "season.csv").write_text(season(300))
    flags = ["--voices", f"host={HOST}", "--voices", f"guest={GUEST}"]
    env = clean_environment(COLUMNS="300")
    result = audiobatch("validate", "season.csv", *flags, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "invalid manifest: 201 problem(s)",
        "  season.csv:2: jobs[*].inputs[*].voice: unknown voice alias 'hots' (did you mean "
        "'host'?); aliases defined: guest, host (100 times; also lines 5, 8, 11, 14, 17, ...)",
        "  season.csv:3: jobs[*].inputs[*].voice: unknown voice alias 'gust' (did you mean "
        "'guest'?); aliases defined: guest, host (100 times; also lines 6, 9, 12, 15, 18, ...)",
        "  season.csv:4: checking stopped here after 200 problems: fix those, then validate again",
        "  hint: give voice aliases with --voices FILE.yaml (alias: voice id per line) or "
        "--voices alias=VOICE_ID, repeatable",
    ]


def test_validate_json_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "season.csv").write_text(season(300))
    result = audiobatch("validate", "season.csv", "--json", cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2
    found = json.loads(result.stdout)
    assert found["valid"] is False
    assert len(found["problems"]) == 201
    assert found["problems"][0] == {
        "file": "season.csv",
        "line": 2,
        "field": "jobs[ep0].inputs[0].voice",
        "message": "unknown voice alias 'hots'; no voice aliases are defined",
    }


def test_past_the_cap_the_other_kinds_are_counted(tmp_path: Path) -> None:
    kinds = MOST_LINES + 5
    jobs = "".join(
        f"  - {{id: j{n}, kind: music, prompt: x, music_length_ms: 1, field{n}: 1}}\n"
        f"  - {{id: k{n}, kind: music, prompt: x, music_length_ms: 1, field{n}: 1}}\n"
        for n in range(kinds)
    )
    (tmp_path / "m.yaml").write_text(f"batch: b\njobs:\n{jobs}")
    env = clean_environment(COLUMNS="300")
    result = audiobatch("validate", "m.yaml", cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"invalid manifest: {4 * kinds} problem(s)"
    # music_length_ms too short in every job, then each job's unknown field, two jobs a field
    assert lines[1].startswith("  m.yaml:3: jobs[*].music_length_ms: must be between 3000")
    assert lines[1].endswith(f"({2 * kinds} times; also lines 4, 5, 6, 7, 8, ...)")
    assert lines[2] == "  m.yaml:3: jobs[*].field0: unknown field (2 times; also line 4)"
    others = kinds - (MOST_LINES - 1)
    assert lines[MOST_LINES + 1:] == [
        f"  ... and {2 * others} more problem(s) of {others} other kind(s); "
        "`audiobatch validate --json` lists every one"
    ]  # fmt: skip


def test_an_unknown_kind_is_answered_with_the_closest(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("batch: b\njobs:\n  - {id: a, kind: dialouge}\n")
    result = audiobatch("validate", "m.yaml", cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2
    assert "unknown kind 'dialouge' (did you mean 'dialogue'?)" in result.stderr
