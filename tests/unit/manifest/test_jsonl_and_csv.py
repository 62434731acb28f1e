"""JSONL (one job a line) and CSV (dialogue lines grouped by episode) manifests."""

from __future__ import annotations

import json
from pathlib import Path

from audiobatch.manifest import DialogueJob, MusicJob, StemsJob
from tests.unit.manifest.helpers import GUEST, HOST, load_one, located, problems, write


def jsonl(*jobs: object) -> str:
    return "\n".join(json.dumps(job) for job in jobs) + "\n"


def test_a_jsonl_file_is_one_job_a_line_named_after_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nightly-run.jsonl",
        jsonl(
            {"id": "theme", "kind": "music", "prompt": "lo-fi", "music_length_ms": 10000},
            {"id": "split", "kind": "stems", "source": {"from": "theme"}},
        )
        + "\n",  # blank lines are skipped
    )
    manifest = load_one(path)
    assert manifest.batch == "nightly-run"
    assert [type(job) for job in manifest.jobs] == [MusicJob, StemsJob]
    assert manifest.job("split").dependencies() == ["theme"]


def test_a_jsonl_batch_can_be_named_and_given_voices_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.jsonl",
        jsonl({"id": "a", "kind": "dialogue", "inputs": [{"voice": "host", "text": "Hi"}]}),
    )
    manifest = load_one(
        path, voices={"host": HOST}, defaults={"output_format": "pcm_24000"}, batch="named"
    )
    job = manifest.job("a")
    assert manifest.batch == "named"
    assert isinstance(job, DialogueJob) and job.output_format == "pcm_24000"
    assert job.inputs[0].voice_id == HOST
    assert load_one(path, voices={"host": HOST}, defaults={"batch": "from-set"}).batch == "from-set"


def test_jsonl_problems_name_the_line_of_their_job(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.jsonl",
        jsonl(
            {"id": "a", "kind": "music_plan", "prompt": "x"},
            {"id": "b", "kind": "music", "prompt": "x", "music_length_ms": 1},
            {"id": "a", "kind": "music_plan", "prompt": "y", "extra": True},
        ),
    )
    assert located([path]) == [
        (2, "jobs[b].music_length_ms"),
        (3, "jobs[a].extra"),
        (3, "jobs[a].id"),
    ]


def test_an_invalid_jsonl_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", '{"id": "a", "kind": "music_plan", "prompt": "x"}\n{"id": \n')
    [problem] = problems([path])
    assert problem.line == 2 and problem.message.startswith("invalid JSON:")


CSV = f"""episode,voice,text
ep1,host,Hello and welcome.
ep2,guest,"Second episode, first line."
ep1,guest,Thanks!
ep1,{HOST},"A line
over two lines."
ep2,host,Bye.
"""


def test_csv_rows_become_one_dialogue_job_per_episode_in_row_order(tmp_path: Path) -> None:
    manifest = load_one(write(tmp_path, "episodes.csv", CSV), voices={"host": HOST, "guest": GUEST})
    assert manifest.batch == "episodes"
    assert [job.id for job in manifest.jobs] == ["ep1", "ep2"]
    ep1, ep2 = manifest.jobs
    assert isinstance(ep1, DialogueJob) and isinstance(ep2, DialogueJob)
    assert [(line.voice_id, line.text) for line in ep1.inputs] == [
        (HOST, "Hello and welcome."),
        (GUEST, "Thanks!"),
        (HOST, "A line\nover two lines."),
    ]
    assert [line.text for line in ep2.inputs] == ["Second episode, first line.", "Bye."]


def test_a_csv_id_column_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", f"id,episode,voice,text\n7,ep1,{HOST},Hi\n8,ep1,{HOST},Ho\n")
    [job] = load_one(path).jobs
    assert isinstance(job, DialogueJob) and job.id == "ep1" and len(job.inputs) == 2


def test_csv_problems_name_the_row_where_they_are(tmp_path: Path) -> None:
    found = problems([write(tmp_path, "episodes.csv", CSV)], voices={"host": HOST})
    assert [(p.line, p.field, p.message) for p in found] == [
        (3, "jobs[ep2].inputs[0].voice", "unknown voice alias 'guest'; aliases defined: host"),
        (4, "jobs[ep1].inputs[1].voice", "unknown voice alias 'guest'; aliases defined: host"),
    ]


def test_a_csv_without_a_required_column_is_refused_at_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", f"episode,speaker,text\nep1,{HOST},Hi\n")
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (1, "voice", "missing column 'voice' (expected episode,voice,text)"),
        (1, "speaker", "unknown column (expected episode,voice,text and maybe id)"),
    ]


def test_csv_rows_with_empty_text_or_a_bad_episode_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "e.csv", f"episode,voice,text\nep1,{HOST},\nEpisode 2,{HOST},Hi\nep3,{HOST}\n"
    )
    assert located([path]) == [(4, "")]  # a short row stops the file before validation
    path = write(tmp_path, "e.csv", f"episode,voice,text\nep1,{HOST},\nEpisode 2,{HOST},Hi\n")
    assert located([path]) == [(2, "jobs[ep1].inputs[0].text"), (3, "jobs[1].id")]


def test_an_empty_csv_is_a_located_problem(tmp_path: Path) -> None:
    [problem] = problems([write(tmp_path, "e.csv", "\n")])
    assert problem.message.startswith("empty CSV")


def test_csv_episodes_have_timestamps_unless_the_flags_turn_them_off(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", f"episode,voice,text\nep1,{HOST},Hi\n")
    [job] = load_one(path).jobs
    assert isinstance(job, DialogueJob) and job.timestamps
    [job] = load_one(path, defaults={"timestamps": False, "part_pause_ms": 300}).jobs
    assert isinstance(job, DialogueJob) and not job.timestamps and job.part_pause_ms == 300
