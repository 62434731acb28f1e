"""Hostile manifests: alias bombs, deep nesting, open CSV quotes and bad bytes are refused at
their line, quickly and in little memory, never with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from audiobatch.manifest import load_manifests
from audiobatch.manifest.budgets import MAX_DEPTH
from tests.unit.manifest.helpers import HOST, load_one, problems, write

VALID_JOB = {"id": "theme", "kind": "music", "prompt": "lo-fi", "music_length_ms": 10000}


def alias_bomb(levels: int = 9) -> str:
    """Nested anchors, each list naming the one before nine times: 9**levels values, in ~400 B."""
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]")
    return "\n".join(lines) + f"\nbatch: bomb\njobs: [*a{levels - 1}]\n"


def test_a_yaml_alias_bomb_is_refused_at_its_line_without_being_expanded(tmp_path: Path) -> None:
    text = alias_bomb()
    assert len(text) <= 420
    [problem] = problems([write(tmp_path, "bomb.yaml", text)])
    assert problem.line == 6  # the first list whose expansion goes past the budget
    assert "aliases expand" in problem.message


def test_a_merge_key_bomb_is_refused_like_an_alias_bomb(tmp_path: Path) -> None:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}], k{n}: 1}}" for n in range(1, 40)]
    text = "\n".join(lines) + "\nbatch: merge\njobs: [*m39]\n"
    [problem] = problems([write(tmp_path, "merge.yaml", text)])
    assert problem.line is not None and "aliases expand" in problem.message


def test_a_yaml_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.yaml", "batch: loop\njobs: &jobs\n  - *jobs\n")
    [problem] = problems([path])
    assert (problem.line, "its own anchor" in problem.message) == (2, True)


def test_aliases_used_as_intended_still_load_and_locate_problems_at_the_anchor(
    tmp_path: Path,
) -> None:
    text = f"""
    batch: shared
    jobs:
      - &scene {{id: a, kind: dialogue, inputs: [{{voice: {HOST}, text: "Hi."}}]}}
      - {{id: b, kind: music, prompt: x, music_length_ms: 10000}}
      - *scene
    """
    found = problems([write(tmp_path, "shared.yaml", text)])
    assert [(p.line, p.field) for p in found] == [(3, "jobs[a].id")]  # the id the alias repeats


def test_yaml_nested_deeper_than_the_cap_through_aliases_is_refused(tmp_path: Path) -> None:
    lines = ["d0: &d0 [[[[[[[[[[x]]]]]]]]]]"]  # ten levels, each anchor ten deeper
    lines += [f"d{n}: &d{n} [[[[[[[[[[*d{n - 1}]]]]]]]]]]" for n in range(1, 8)]
    text = "\n".join(lines) + "\nbatch: deep\njobs: [*d7]\n"
    [problem] = problems([write(tmp_path, "deep.yaml", text)])
    assert problem.line is not None and f"more than {MAX_DEPTH} levels" in problem.message


def test_json_nested_a_thousand_levels_deep_is_refused_at_its_line(tmp_path: Path) -> None:
    deep = '{"batch": "deep",\n "jobs": ' + "[" * 5000 + "]" * 5000 + "}"
    [problem] = problems([write(tmp_path, "deep.json", deep)])
    assert (problem.line, f"more than {MAX_DEPTH} levels" in problem.message) == (2, True)


def test_a_deep_jsonl_line_is_refused_and_the_other_lines_still_reported(tmp_path: Path) -> None:
    text = json.dumps(VALID_JOB) + "\n" + "[" * 3000 + "]" * 3000 + "\n{oops\n"
    found = problems([write(tmp_path, "deep.jsonl", text)])
    assert [p.line for p in found] == [2, 3]
    assert f"more than {MAX_DEPTH} levels" in found[0].message
    assert found[1].message.startswith("invalid JSON")


def test_an_integer_too_long_to_convert_is_refused_at_its_line(tmp_path: Path) -> None:
    job = json.dumps(VALID_JOB)[:-1] + ', "seed": ' + "9" * 5000 + "}"
    [problem] = problems([write(tmp_path, "long.jsonl", json.dumps(VALID_JOB) + "\n" + job)])
    assert problem.line == 2 and "digits" in problem.message
    [problem] = problems([write(tmp_path, "long.yaml", "batch: x\njobs:\n  - " + "9" * 5000)])
    assert problem.line == 3 and "cannot read this value" in problem.message


def test_a_csv_quote_left_open_is_refused_where_it_opened(tmp_path: Path) -> None:
    text = f"""
    episode,voice,text
    ep1,{HOST},"A line ""quoted"" over
    two lines."
    ep1,{HOST},"Hello
    ep1,{HOST},second line
    ep1,{HOST},third line
    """
    [problem] = problems([write(tmp_path, "open.csv", text)])
    assert (problem.line, "never closed" in problem.message) == (4, True)


def test_every_csv_quoting_error_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    text = f"""
    episode,voice,text
    ep1,{HOST},"Closed" then more
    ep1,{HOST},Fine.
    ep1,{HOST},too,many
    ep2,{HOST},"never closed
    """
    found = problems([write(tmp_path, "many.csv", text)])
    assert [p.line for p in found] == [2, 4, 5]


def test_bytes_that_are_not_utf8_are_located_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"batch: x\njobs:\n  - caf\xe9: 1\n  - ok\n  - \xff\xfe\n")
    found = problems([path])
    assert [(p.line, p.message) for p in found] == [
        (3, "not UTF-8 text: byte 0xe9 at column 8"),
        (5, "not UTF-8 text: byte 0xff at column 5"),
    ]


def test_a_long_jsonl_manifest_validates(tmp_path: Path) -> None:
    lines = [json.dumps({**VALID_JOB, "id": f"j{n}"}) for n in range(5000)]
    manifest = load_one(write(tmp_path, "many.jsonl", "\n".join(lines)))
    assert len(manifest.jobs) == 5000


def test_problems_of_a_long_manifest_name_jobs_by_their_ids(tmp_path: Path) -> None:
    lines = [json.dumps({**VALID_JOB, "id": f"j{n}"}) for n in range(300)]
    lines[120] = json.dumps({**VALID_JOB, "id": "j0"})
    lines[250] = json.dumps({**VALID_JOB, "id": "j250", "music_length_ms": 1})
    found = problems([write(tmp_path, "many.jsonl", "\n".join(lines))])
    assert [(p.line, p.field) for p in found] == [
        (121, "jobs[j0].id"),
        (251, "jobs[j250].music_length_ms"),
    ]
    assert load_manifests([write(tmp_path, "ok.jsonl", lines[0])])[0].jobs[0].id == "j0"
