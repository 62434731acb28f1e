"""The ``loudness`` setting: presets, levels of one's own, ``none``, per job or through
``defaults``; a target out of the sane range, or on a raw output, is refused where it is written."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from audiobatch.backend import Backend
from audiobatch.manifest import DialogueJob, MusicJob
from audiobatch.manifest.episodes import Part, PartLine, part_job
from audiobatch.manifest.loudness import LoudnessLevels
from audiobatch.render.context import RenderContext
from audiobatch.render.fingerprint import request_fingerprint
from tests.unit.manifest.helpers import HOST, load_one, problems, write


def manifest(tmp_path: Path, job_fields: str, defaults: str = "") -> Path:
    return write(
        tmp_path,
        "show.yaml",
        f"batch: show\n{defaults}jobs:\n"
        "  - id: ep1\n"
        "    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: Hello there.}}]\n"
        f"{job_fields}"
        "  - id: theme\n"
        "    kind: music\n"
        "    prompt: a short theme\n",
    )


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("podcast", "podcast"),
        ("audiobook", "audiobook"),
        ("none", None),
        (
            "{integrated_lufs: -14, true_peak_db: -1.5}",
            LoudnessLevels(integrated_lufs=-14.0, true_peak_db=-1.5),
        ),
    ],
)
def test_a_job_takes_a_preset_its_own_levels_or_none(
    tmp_path: Path, written: str, read: object
) -> None:
    job = load_one(manifest(tmp_path, f"    loudness: {written}\n")).job("ep1")
    assert isinstance(job, DialogueJob)
    assert job.loudness == read


def test_defaults_set_the_loudness_of_every_audio_job_that_does_not_set_its_own(
    tmp_path: Path,
) -> None:
    loaded = load_one(
        manifest(tmp_path, "    loudness: none\n", defaults="defaults:\n  loudness: podcast\n")
    )
    episode, theme = loaded.job("ep1"), loaded.job("theme")
    assert isinstance(episode, DialogueJob) and isinstance(theme, MusicJob)
    assert episode.loudness is None
    assert theme.loudness == "podcast"


def test_a_stored_spec_reads_back_the_same_loudness(tmp_path: Path) -> None:
    written = "{integrated_lufs: -18, true_peak_db: -2}"
    job = load_one(manifest(tmp_path, f"    loudness: {written}\n")).job("ep1")
    again = DialogueJob.model_validate(job.model_dump(mode="json", by_alias=True))
    assert again == job


def test_the_parts_of_an_episode_carry_no_loudness_of_their_own(tmp_path: Path) -> None:
    job = load_one(manifest(tmp_path, "    loudness: podcast\n")).job("ep1")
    assert isinstance(job, DialogueJob)
    assert part_job(job, _whole(job)).loudness is None


@pytest.mark.parametrize(
    ("fields", "line", "field", "message"),
    [
        (
            "    loudness: {integrated_lufs: -3, true_peak_db: -1}\n",
            6,
            "jobs[ep1].loudness.integrated_lufs",
            "must be between -36.0 and -9.0",
        ),
        (
            "    loudness: {integrated_lufs: -16, true_peak_db: 2}\n",
            6,
            "jobs[ep1].loudness.true_peak_db",
            "must be between -9.0 and 0.0",
        ),
        (
            "    loudness: {integrated_lufs: -16}\n",
            6,
            "jobs[ep1].loudness.true_peak_db",
            "required field is missing",
        ),
        (
            "    loudness: {integrated_lufs: -16, true_peak_db: -1, lra: 7}\n",
            6,
            "jobs[ep1].loudness.lra",
            "unknown field",
        ),
        (
            "    loudness: broadcast\n",
            6,
            "jobs[ep1].loudness",
            "Input should be 'podcast' or 'audiobook', not 'broadcast'",
        ),
        (
            "    output_format: pcm_24000\n    loudness: podcast\n",
            7,
            "jobs[ep1].loudness",
            "loudness applies to mp3 and opus outputs, not to raw pcm_24000: "
            "set loudness: none or choose an mp3_ or opus_ output_format",
        ),
    ],
)
def test_a_bad_loudness_is_refused_at_its_line(
    tmp_path: Path, fields: str, line: int, field: str, message: str
) -> None:
    path = manifest(tmp_path, fields)
    [problem] = problems([path])
    assert (problem.file, problem.line, problem.field) == (str(path), line, field)
    assert problem.message.startswith(message)


def test_a_bad_default_loudness_is_refused_at_the_default(tmp_path: Path) -> None:
    path = manifest(
        tmp_path, "", defaults="defaults:\n  loudness: {integrated_lufs: -50, true_peak_db: -1}\n"
    )
    found = problems([path])
    assert [(p.file, p.line, p.field) for p in found] == [(str(path), 3, "defaults.loudness")]
    assert "must be between -36.0 and -9.0" in found[0].message, found[0].message


def _whole(job: DialogueJob) -> Part:
    return Part(tuple(PartLine(n, line.voice, line.text) for n, line in enumerate(job.inputs)))


def test_loudness_changes_the_fingerprint_only_of_a_job_that_sets_it(tmp_path: Path) -> None:
    def fingerprint(loudness: str) -> tuple[str, str]:
        job = load_one(manifest(tmp_path, f"    loudness: {loudness}\n")).job("ep1")
        spec = job.model_dump(mode="json", by_alias=True)
        without = {name: value for name, value in spec.items() if name != "loudness"}
        backend = Backend.of("http://emulator.test", "key")
        no_sources = cast(RenderContext, None)  # a dialogue job reads no other output
        return (
            request_fingerprint("dialogue", spec, job, no_sources, backend),
            request_fingerprint("dialogue", without, job, no_sources, backend),
        )

    unset, as_before = fingerprint("none")
    assert unset == as_before  # a job without loudness asks what it always asked
    podcast, _ = fingerprint("podcast")
    audiobook, _ = fingerprint("audiobook")
    assert len({unset, podcast, audiobook}) == 3
