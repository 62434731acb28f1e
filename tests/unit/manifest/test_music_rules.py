"""Music jobs: the request rules of /v1/music that can be checked before sending anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.manifest.helpers import load_one, problems, write

PLAN = (
    "{positive_global_styles: [a], negative_global_styles: [], sections: "
    "[{section_name: s, positive_local_styles: [], negative_local_styles: [], "
    "duration_ms: %d, lines: []}]}"
)


def music(tmp_path: Path, fields: str) -> Path:
    return write(tmp_path, "m.yaml", f"batch: b\njobs:\n  - id: m\n    kind: music\n{fields}")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            "    stream: true\n",
            "jobs[m].prompt",
            "a music job needs a prompt or a composition_plan",
        ),
        (
            f"    prompt: x\n    composition_plan: {PLAN % 5000}\n",
            "jobs[m].composition_plan",
            "give a prompt or a composition_plan, not both",
        ),
        (
            f"    composition_plan: {PLAN % 5000}\n    music_length_ms: 5000\n",
            "jobs[m].music_length_ms",
            "only goes with a prompt: a composition_plan sets the length by its sections",
        ),
        (
            "    prompt: x\n    seed: 1\n",
            "jobs[m].seed",
            "cannot be used with a prompt, only with a composition_plan",
        ),
        (
            "    prompt: x\n    stream: true\n    detailed: true\n",
            "jobs[m].detailed",
            "stream and detailed cannot both be true",
        ),
        (
            "    prompt: x\n    music_length_ms: 600001\n",
            "jobs[m].music_length_ms",
            "must be between 3000 and 600000",
        ),
        (
            f"    prompt: {'x' * 4101}\n",
            "jobs[m].prompt",
            "must be at most 4100 characters, not 4101",
        ),
        (
            f"    composition_plan: {PLAN % 5000}\n    seed: 2147483648\n",
            "jobs[m].seed",
            "must be between 0 and 2147483647",
        ),
        (
            f"    composition_plan: {PLAN % 2000}\n",
            "jobs[m].composition_plan.sections[0].duration_ms",
            "must be between 3000 and 120000",
        ),
        (
            "    prompt: x\n    model_id: music-v1\n",
            "jobs[m].model_id",
            "String should match pattern",
        ),
        (
            "    prompt: x\n    output_format: wav_44100\n",
            "jobs[m].output_format",
            "unknown output format 'wav_44100' for music jobs",
        ),
    ],
)
def test_a_music_job_that_breaks_a_request_rule_is_refused(
    tmp_path: Path, fields: str, field: str, message: str
) -> None:
    [problem] = problems([music(tmp_path, fields)])
    assert problem.field == field
    assert problem.message.startswith(message)


def test_a_rule_across_fields_is_located_at_the_field_it_blames(tmp_path: Path) -> None:
    path = music(tmp_path, "    prompt: x\n    detailed: true\n    stream: true\n")
    [problem] = problems([path])
    assert (problem.line, problem.field) == (6, "jobs[m].detailed")


def test_a_plan_section_may_reuse_a_stored_song(tmp_path: Path) -> None:
    section = (
        "{section_name: s, positive_local_styles: [], negative_local_styles: [], "
        "duration_ms: 4000, lines: [], source_from: {song_id: abc, range: {start_ms: 0, end_ms: 4000}}}"
    )
    plan = f"{{positive_global_styles: [], negative_global_styles: [], sections: [{section}]}}"
    job = load_one(music(tmp_path, f"    composition_plan: {plan}\n")).job("m")
    assert job.model_dump(mode="json")["composition_plan"]["sections"][0]["source_from"] == {
        "song_id": "abc",
        "range": {"start_ms": 0, "end_ms": 4000},
        "negative_ranges": None,
    }


def test_a_time_range_must_end_after_it_starts(tmp_path: Path) -> None:
    section = (
        "{section_name: s, positive_local_styles: [], negative_local_styles: [], "
        "duration_ms: 4000, lines: [], source_from: {song_id: abc, range: {start_ms: 5, end_ms: 5}}}"
    )
    plan = f"{{positive_global_styles: [], negative_global_styles: [], sections: [{section}]}}"
    [problem] = problems([music(tmp_path, f"    composition_plan: {plan}\n")])
    assert problem.field == "jobs[m].composition_plan.sections[0].source_from.range.end_ms"
    assert problem.message == "must be greater than start_ms"
