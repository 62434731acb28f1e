"""Invalid manifests: every problem of every file is reported at once, with its file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audiobatch.errors import ManifestError
from audiobatch.manifest import DialogueJob, load_manifests
from tests.unit.manifest.helpers import HOST, located, problems, write


def test_several_problems_in_one_file_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "demo.yaml",
        f"""
        batch: lines
        voices:
          host: {HOST}
        jobs:
          - id: one
            kind: dialogue
            inputs:
              - {{voice: host, text: "Hi"}}
              - {{voice: stranger, text: "Hello"}}
              - {{voice: host, text: ""}}
            colour: blue
          - id: two
            kind: music
            prompt: tune
            music_length_ms: 100
          - id: one
            kind: stems
            source: {{from: nowhere}}
        """,
    )
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (9, "jobs[one].inputs[1].voice", "unknown voice alias 'stranger'; aliases defined: host"),
        (10, "jobs[one].inputs[2].text", "must not be empty"),
        (11, "jobs[one].colour", "unknown field"),
        (15, "jobs[two].music_length_ms", "must be between 3000 and 600000"),
        (16, "jobs[one].id", "duplicate job id 'one' (first used at line 5)"),
        (18, "jobs[one].source.from", "unknown job 'nowhere'"),
    ]
    assert all(p.file == str(path) for p in found)
    assert str(found[3]) == f"{path}:15: jobs[two].music_length_ms: must be between 3000 and 600000"


def test_problems_of_every_file_are_collected_before_raising(tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "good.yaml",
        f"batch: g\njobs: [{{id: a, kind: dialogue, inputs: [{{voice: {HOST}, text: hi}}]}}]\n",
    )
    bad1 = write(tmp_path, "bad1.yaml", "batch: b\njobs:\n  - id: a\n    kind: dialog\n")
    bad2 = write(
        tmp_path, "bad2.json", '{"batch": "c",\n "jobs": [{"id": "x", "kind": "stems"}]}\n'
    )
    found = problems([bad1, good, bad2])
    assert [(p.file, p.line, p.field) for p in found] == [
        (str(bad1), 4, "jobs[a].kind"),
        (str(bad2), 2, "jobs[x].source"),
    ]


def test_an_unknown_kind_is_located_at_its_kind_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: b\njobs:\n  - id: a\n    kind: dialog\n")
    [problem] = problems([path])
    assert (problem.line, problem.field) == (4, "jobs[a].kind")
    assert problem.message.startswith(
        "unknown kind 'dialog' (did you mean 'dialogue'?); expected one of dialogue, music"
    )


def test_a_job_without_kind_is_located_at_the_job(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: b\njobs:\n  - id: a\n    prompt: x\n")
    assert located([path]) == [(3, "jobs[a].kind")]


def test_an_unknown_field_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "batch: b\njobs:\n  - id: a\n    kind: music\n    prompt: x\n    music_lenght_ms: 5000\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (6, "jobs[a].music_lenght_ms")
    assert problem.message == "unknown field (did you mean 'music_length_ms'?)"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            "stream: yes please",
            "jobs[a].stream",
            "Input should be a valid boolean, not 'yes please'",
        ),
        ("seed: '42'", "jobs[a].seed", "Input should be a valid integer, not '42'"),
        ("inputs: hello", "jobs[a].inputs", "Input should be a valid list, not 'hello'"),
        ("settings: 0.5", "jobs[a].settings", "must be a mapping, not 0.5"),
        ("output_format: mp3_48000_192", "jobs[a].output_format", "unknown output format"),
        (
            "apply_text_normalization: sometimes",
            "jobs[a].apply_text_normalization",
            "Input should be 'auto', 'on' or 'off'",
        ),
        ("seed: -1", "jobs[a].seed", "must be between 0 and 4294967295"),
        (
            "pronunciation_dictionary_locators: [{pronunciation_dictionary_id: a}, {pronunciation_dictionary_id: b}, {pronunciation_dictionary_id: c}, {pronunciation_dictionary_id: d}]",
            "jobs[a].pronunciation_dictionary_locators",
            "List should have at most 3 items",
        ),
    ],
)
def test_a_wrong_value_is_reported_at_its_field(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    inputs = "" if line.startswith("inputs:") else f"    inputs: [{{voice: {HOST}, text: hi}}]\n"
    path = write(
        tmp_path, "m.yaml", f"batch: b\njobs:\n  - id: a\n    kind: dialogue\n    {line}\n{inputs}"
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (5, field)
    assert problem.message.startswith(message)


def test_a_missing_required_field_is_located_at_its_job(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "batch: b\njobs:\n  - id: a\n    kind: voice_change\n    voice: " + HOST + "\n",
    )
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (3, "jobs[a].source", "required field is missing")
    ]


def test_an_empty_text_and_an_empty_dialogue_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        f"""
        batch: b
        jobs:
          - id: blank
            kind: dialogue
            inputs:
              - {{voice: {HOST}, text: "   "}}
          - id: none
            kind: dialogue
            inputs: []
        """,
    )
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (6, "jobs[blank].inputs[0].text", "must not be empty"),
        (9, "jobs[none].inputs", "a dialogue job needs at least one input"),
    ]


def test_a_dialogue_with_more_than_ten_voices_is_refused(tmp_path: Path) -> None:
    lines = "\n".join(f"      - {{voice: Voice{n:015d}, text: line {n}}}" for n in range(11))
    path = write(
        tmp_path,
        "m.yaml",
        f"batch: b\njobs:\n  - id: crowd\n    kind: dialogue\n    inputs:\n{lines}\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (5, "jobs[crowd].inputs")
    assert problem.message == "uses 11 different voices; a dialogue job takes at most 10"


def test_ten_voices_and_long_texts_are_accepted_for_later_splitting(tmp_path: Path) -> None:
    lines = "\n".join(
        f"      - {{voice: Voice{n % 10:015d}, text: {'word ' * 100}}}" for n in range(40)
    )
    path = write(
        tmp_path,
        "m.yaml",
        f"batch: b\njobs:\n  - id: long\n    kind: dialogue\n    inputs:\n{lines}\n",
    )
    [manifest] = load_manifests([path])
    [job] = manifest.jobs
    assert isinstance(job, DialogueJob)
    assert sum(len(line.text) for line in job.inputs) > 2000


def test_a_duplicate_job_id_is_reported_at_the_second_occurrence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """
        batch: b
        jobs:
          - id: plan
            kind: music_plan
            prompt: a
          - id: plan
            kind: music_plan
            prompt: b
        """,
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (6, "jobs[plan].id")
    assert problem.message == "duplicate job id 'plan' (first used at line 3)"


def test_a_badly_formed_job_id_is_reported_and_the_job_named_by_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "batch: b\njobs:\n  - id: Cold Open\n    kind: music_plan\n    prompt: a\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (3, "jobs[0].id")
    assert "must match [a-z0-9][a-z0-9._-]*" in problem.message


def test_a_duplicate_yaml_key_is_an_error_at_its_second_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "batch: b\njobs:\n  - id: a\n    kind: music\n    prompt: one\n    prompt: two\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (6, "jobs[a].prompt")
    assert problem.message == "duplicate key (first at line 5)"


def test_invalid_yaml_is_reported_at_the_parser_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.yaml", "batch: b\njobs:\n  - id: a\n    kind: [dialogue\n    text: x\n"
    )
    [problem] = problems([path])
    assert problem.file == str(path) and problem.line == 5
    assert problem.message.startswith("invalid YAML:")


def test_invalid_json_is_reported_at_the_parser_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", '{\n  "batch": "b",\n  "jobs": [\n    {"id": "a",}\n  ]\n}\n')
    [problem] = problems([path])
    assert problem.line == 4
    assert problem.message.startswith("invalid JSON:")


def test_json_field_problems_carry_lines_even_when_indented_with_tabs(tmp_path: Path) -> None:
    document = {
        "batch": "b",
        "jobs": [
            {"id": "a", "kind": "music_plan", "prompt": "x"},
            {"id": "b", "kind": "music", "prompt": "x", "music_length_ms": 1},
        ],
    }
    path = write(tmp_path, "m.json", json.dumps(document, indent="\t"))
    assert located([path]) == [(13, "jobs[b].music_length_ms")]


def test_a_missing_file_a_folder_and_an_unknown_extension_are_located_problems(
    tmp_path: Path,
) -> None:
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "manifests").mkdir()
    (tmp_path / "notes.txt").write_text("batch: b\n")
    paths = [
        tmp_path / "absent.yaml",
        tmp_path / "folder.yaml",
        tmp_path / "manifests",  # a folder says so, not that '' is an unknown format
        tmp_path / "notes.txt",
    ]
    found = problems(paths)
    assert [(p.file, p.line) for p in found] == [(str(path), None) for path in paths]
    assert found[0].message == "cannot read the file: No such file or directory"
    folder = "a folder, not a manifest file: name a file in it"
    assert [found[1].message, found[2].message] == [folder, folder]
    assert found[3].message.startswith("unknown manifest format '.txt'")


def test_a_file_that_is_not_utf8_is_a_located_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"batch: \xff\n")
    [problem] = problems([path])
    assert problem.message.startswith("not UTF-8 text")


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("m.yaml", "", "empty YAML: expected a mapping with batch and jobs"),
        ("m.yml", "\n# only a comment\n\n", "empty YAML: expected a mapping with batch and jobs"),
        ("m.json", " \n", "empty JSON: expected an object with batch and jobs"),
        ("m.csv", "", "empty CSV: expected a header row episode,voice,text"),
    ],
)
def test_an_empty_file_is_said_to_be_empty_at_its_first_line(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    [problem] = problems([write(tmp_path, name, text)])
    assert (problem.line, problem.field, problem.message) == (1, "", says)


def test_the_top_level_needs_a_batch_and_jobs_and_nothing_else(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "name: b\nbatch: has space\njobs: []\n")
    found = problems([path])
    assert [(p.line, p.field) for p in found] == [(1, "name"), (2, "batch"), (3, "jobs")]
    empty = write(tmp_path, "e.yaml", "- just a list\n")
    assert [p.message for p in problems([empty])] == [
        "a manifest must be a mapping with batch and jobs"
    ]


def test_a_problem_prints_as_file_line_field_message(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: b\njobs:\n  - id: a\n    kind: dialog\n")
    with pytest.raises(ManifestError) as raised:
        load_manifests([path])
    assert str(raised.value).startswith(f"{path}:4: jobs[a].kind: unknown kind 'dialog'")
