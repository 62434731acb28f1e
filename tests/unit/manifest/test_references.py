"""Jobs that read other jobs' outputs: references must exist, give the right output, and not loop."""

from __future__ import annotations

from pathlib import Path

from audiobatch.manifest import JobOutput, LocalFile, S3Object, StemsJob
from tests.unit.manifest.helpers import HOST, load_one, problems, write

AUDIO = f"""
batch: refs
jobs:
  - id: talk
    kind: dialogue
    inputs: [{{voice: {HOST}, text: Hi}}]
  - id: plan
    kind: music_plan
    prompt: jingle
"""


def test_a_reference_to_an_unknown_job_is_reported_at_its_from(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        AUDIO + "  - id: split\n    kind: stems\n    source:\n      from: tlak\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field, problem.message) == (
        12,
        "jobs[split].source.from",
        "unknown job 'tlak'",
    )


def test_a_job_cannot_read_its_own_output(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        AUDIO
        + "  - id: again\n    kind: voice_change\n    voice: "
        + HOST
        + "\n    source: {from: again}\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (12, "jobs[again].source.from")
    assert problem.message == "a job cannot read its own output"


def test_stems_cannot_be_made_from_a_plan(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.yaml", AUDIO + "  - id: split\n    kind: stems\n    source: {from: plan}\n"
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (11, "jobs[split].source.from")
    assert problem.message.startswith("job 'plan' is a music_plan job, which gives no audio")


def test_a_composition_plan_must_come_from_a_music_plan_job(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        AUDIO + "  - id: song\n    kind: music\n    composition_plan: {from: talk}\n",
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (11, "jobs[song].composition_plan.from")
    assert problem.message == (
        "job 'talk' is a dialogue job, which gives no composition plan; "
        "composition_plan needs a music_plan job"
    )


def test_a_dependency_cycle_is_reported_once_with_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        f"""
        batch: loop
        jobs:
          - id: first
            kind: voice_change
            voice: {HOST}
            source: {{from: third}}
          - id: second
            kind: voice_change
            voice: {HOST}
            source: {{from: first}}
          - id: third
            kind: voice_change
            voice: {HOST}
            source: {{from: second}}
        """,
    )
    [problem] = problems([path])
    assert (problem.line, problem.field) == (6, "jobs[first].source.from")
    assert problem.message == "dependency cycle: first -> third -> second -> first"


def test_a_plan_can_refine_another_plan_but_not_in_a_loop(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """
        batch: plans
        jobs:
          - {id: a, kind: music_plan, prompt: x, source_composition_plan: {from: b}}
          - {id: b, kind: music_plan, prompt: y, source_composition_plan: {from: a}}
        """,
    )
    assert [p.message for p in problems([path])] == ["dependency cycle: a -> b -> a"]


def test_references_may_point_forward_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """
        batch: forward
        jobs:
          - {id: song, kind: music, composition_plan: {from: plan}}
          - {id: plan, kind: music_plan, prompt: y}
        """,
    )
    assert load_one(path).job("song").dependencies() == ["plan"]


def test_a_local_source_must_exist_and_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    path = write(
        tmp_path,
        "m.yaml",
        """
        batch: files
        jobs:
          - {id: a, kind: stems, source: missing.mp3}
          - {id: b, kind: stems, source: folder}
          - {id: c, kind: stems, source: "https://example.com/a.mp3"}
          - {id: d, kind: stems, source: "s3://Bad_Bucket/a.mp3"}
          - {id: e, kind: stems, source: "s3://bucket-name/"}
          - {id: f, kind: stems, source: 42}
        """,
    )
    found = problems([path])
    assert [(p.line, p.field) for p in found] == [
        (n, f"jobs[{j}].source") for n, j in zip(range(3, 9), "abcdef", strict=True)
    ]
    messages = [p.message for p in found]
    assert messages[0] == f"no such file: {tmp_path / 'missing.mp3'}"
    assert messages[1] == f"not a file: {tmp_path / 'folder'}"
    assert messages[2].startswith("unsupported source URL scheme 'https'")
    assert messages[3] == "invalid S3 bucket name 'Bad_Bucket'"
    assert messages[4].startswith("an S3 source needs an object key")
    assert messages[5] == "expected {from: job-id}, a local file path or s3://bucket/key"


def test_local_sources_can_be_left_unchecked(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: b\njobs: [{id: a, kind: stems, source: later.mp3}]\n")
    job = load_one(path, check_files=False).job("a")
    assert isinstance(job, StemsJob) and isinstance(job.source, LocalFile)
    assert job.source.path == tmp_path / "later.mp3"


def test_source_models_compare_by_value() -> None:
    assert JobOutput.model_validate({"from": "a"}) == JobOutput.model_validate({"from": "a"})
    assert S3Object.model_validate("s3://bucket-name/k").uri == "s3://bucket-name/k"
