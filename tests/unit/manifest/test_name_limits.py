"""Batch names and job ids name folders in storage and rows in SQL: over-long ones are refused
where they are written, before anything is stored."""

from __future__ import annotations

import json
from pathlib import Path

from audiobatch.db.models import Batch, Job
from audiobatch.manifest.common import (
    DATED_SUFFIX_CHARS,
    MAX_BATCH_NAME_CHARS,
    MAX_JOB_ID_CHARS,
)
from audiobatch.manifest.episodes import part_key
from audiobatch.manifest.schema import Manifest
from tests.unit.manifest.helpers import HOST, load_one, problems, write

LONG_BATCH = "b" * (MAX_BATCH_NAME_CHARS + 1)
LONG_ID = "j" * (MAX_JOB_ID_CHARS + 1)
TOO_LONG = "characters is too long: at most 100 (it names a folder in storage)"


def dialogue(job_id: str, **fields: object) -> str:
    extra = "".join(f"\n    {k}: {v}" for k, v in fields.items())
    return f"""
  - id: {job_id}
    kind: dialogue
    inputs: [{{voice: {HOST}, text: Hi}}]{extra}"""


def test_a_batch_name_longer_than_the_limit_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", f"# a comment\nbatch: {LONG_BATCH}\njobs:{dialogue('a')}\n")
    assert [(p.file, p.line, p.field, p.message) for p in problems([path])] == [
        (str(path), 2, "batch", f"batch name of 101 {TOO_LONG}"),
    ]


def test_a_job_id_longer_than_the_limit_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", f"batch: b\njobs:{dialogue('a')}{dialogue(LONG_ID)}\n")
    assert [(p.line, p.field, p.message) for p in problems([path])] == [
        (6, "jobs[1].id", f"job id of 101 {TOO_LONG}"),  # named by index: the id is unusable
    ]


def test_a_reference_to_an_over_long_job_id_is_refused_at_its_line(tmp_path: Path) -> None:
    text = f"batch: b\njobs:{dialogue('a')}\n  - id: s\n    kind: stems\n    source: {{from: {LONG_ID}}}\n"
    assert [(p.line, p.field, p.message) for p in problems([write(tmp_path, "m.yaml", text)])] == [
        (8, "jobs[s].source.from", f"job id of 101 {TOO_LONG}"),
    ]


def test_names_at_the_limit_are_accepted(tmp_path: Path) -> None:
    long_batch, long_id = "b" * MAX_BATCH_NAME_CHARS, "j" * MAX_JOB_ID_CHARS
    manifest = load_one(
        write(tmp_path, "m.yaml", f"batch: {long_batch}\njobs:{dialogue(long_id)}\n")
    )
    assert (manifest.batch, manifest.jobs[0].id) == (long_batch, long_id)


def test_json_manifests_are_located_the_same_way(tmp_path: Path) -> None:
    job = {"id": LONG_ID, "kind": "dialogue", "inputs": [{"voice": HOST, "text": "Hi"}]}
    text = json.dumps({"batch": LONG_BATCH, "jobs": [job]}, indent=2)
    found = problems([write(tmp_path, "m.json", text)])
    assert [(p.line, p.field) for p in found] == [(2, "batch"), (5, "jobs[0].id")]


def test_a_csv_episode_longer_than_the_limit_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", f"episode,voice,text\nep1,{HOST},Hi\n{LONG_ID},{HOST},Hi\n")
    assert [(p.line, p.field, p.message) for p in problems([path])] == [
        (3, "jobs[1].id", f"job id of 101 {TOO_LONG}"),
    ]


def test_a_csv_named_by_an_over_long_file_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"{LONG_BATCH}.csv", f"episode,voice,text\nep1,{HOST},Hi\n")
    [problem] = problems([path])
    assert (problem.file, problem.field, problem.message) == (
        str(path), "batch", f"batch name of 101 {TOO_LONG}"
    )  # fmt: skip


def test_a_schedule_may_date_a_batch_name_at_the_limit(tmp_path: Path) -> None:
    batch = "b" * MAX_BATCH_NAME_CHARS
    manifest = load_one(write(tmp_path, "m.yaml", f"batch: {batch}\njobs:{dialogue('a')}\n"))
    dated = Manifest.build(f"{batch}-2026-03-29", manifest.jobs, manifest.source)
    assert dated.batch == f"{batch}-2026-03-29"


def test_the_limits_leave_room_in_the_columns_for_what_is_added() -> None:
    assert Batch.__table__.c.name.type.length >= MAX_BATCH_NAME_CHARS + DATED_SUFFIX_CHARS
    assert MAX_JOB_ID_CHARS + len(part_key("", 9999)) <= Job.__table__.c.key.type.length


def test_the_longest_storage_key_fits_a_file_name_and_an_s3_key() -> None:
    batch = "b" * (MAX_BATCH_NAME_CHARS + DATED_SUFFIX_CHARS)
    key = f"{batch}/{'0' * 32}/{part_key('j' * MAX_JOB_ID_CHARS, 9999)}/alignment.json"
    assert max(len(part.encode()) for part in key.split("/")) <= 255
    assert len(key.encode()) <= 1024 - 512  # half of S3's limit is left for the storage prefix
