"""Episodes longer than one request: where they are cut, and what is refused."""

from __future__ import annotations

import re
from pathlib import Path

from audiobatch.manifest import DialogueInput, DialogueJob
from audiobatch.manifest.episodes import cut_parts, episode_parts, part_job, part_key
from tests.unit.manifest.helpers import GUEST, HOST, load_one, problems, write

VOICES = [f"Voice{n:015d}" for n in range(12)]


def turn(voice: str, text: str) -> DialogueInput:
    return DialogueInput(voice=voice, text=text)


def sentences(count: int, start: int = 0) -> str:
    return " ".join(
        f"This is sentence number {n} of a long turn." for n in range(start, start + count)
    )


def test_parts_are_cut_at_turn_boundaries_and_keep_every_turn_in_order() -> None:
    inputs = [turn(VOICES[n % 4], sentences(8, n)) for n in range(30)]
    parts = cut_parts(inputs, 2000)
    assert len(parts) > 1
    assert all(part.chars <= 2000 for part in parts)
    lines = [line for part in parts for line in part.lines]
    assert [line.turn for line in lines] == list(range(30))  # no turn was cut: each fits a part
    assert [line.text for line in lines] == [line.text for line in inputs]


def test_a_turn_too_long_for_one_part_is_cut_at_sentence_ends() -> None:
    long = sentences(120)
    parts = cut_parts([turn(HOST, "Short opener."), turn(GUEST, long)], 1000)
    pieces = [line for part in parts for line in part.lines if line.turn == 1]
    assert len(pieces) > 2
    assert all(piece.text.endswith("long turn.") for piece in pieces)
    assert " ".join(piece.text for piece in pieces) == long
    assert all(part.chars <= 1000 for part in parts)


def test_a_sentence_longer_than_a_part_is_cut_at_a_space() -> None:
    words = " ".join(["word"] * 500)  # one sentence of 2,499 characters
    parts = cut_parts([turn(HOST, words)], 1000)
    assert [len(part.lines) for part in parts] == [1, 1, 1]
    assert all(
        part.chars <= 1000 and re.fullmatch(r"(word ?)+", part.lines[0].text) for part in parts
    )
    assert " ".join(part.lines[0].text for part in parts) == words


def test_a_megabyte_long_run_of_sentence_enders_is_cut_without_rescanning_it() -> None:
    # a run of enders followed by no space used to be re-scanned from each of its characters
    run = "?!." * 350_000
    parts = cut_parts([turn(HOST, run), turn(GUEST, "Done.")], 2000)
    assert "".join(line.text for part in parts for line in part.lines) == run + "Done."
    assert all(part.chars <= 2000 for part in parts)


def test_a_megabyte_turn_is_cut_at_the_same_sentence_ends_as_a_short_one() -> None:
    long = sentences(25_000)  # 1.1 MB of sentences
    pieces = [line.text for part in cut_parts([turn(HOST, long)], 2000) for line in part.lines]
    assert " ".join(pieces) == long
    assert all(piece.endswith("long turn.") and len(piece) <= 2000 for piece in pieces)
    short = sentences(200)
    assert (
        pieces[:2]
        == [line.text for part in cut_parts([turn(HOST, short)], 2000) for line in part.lines][:2]
    )


def test_a_job_over_the_part_size_becomes_an_episode_of_part_jobs() -> None:
    inputs = [turn(VOICES[n % 4], sentences(6, n)) for n in range(20)]
    job = DialogueJob(id="ep1", inputs=inputs, timestamps=True, part_chars=1500, seed=7)
    parts = episode_parts(job)
    assert parts is not None
    first = part_job(job, parts[0])
    assert (first.part_chars, first.timestamps, first.seed) == (None, True, 7)
    assert [line.text for line in first.inputs] == [line.text for line in parts[0].lines]
    assert part_key("ep1", 3) == "ep1/part-003"
    assert episode_parts(job.model_copy(update={"part_chars": None})) is None


def test_a_long_manifest_job_is_cut_at_the_configured_part_size(tmp_path: Path) -> None:
    lines = "\n".join(
        f"      - {{voice: {VOICES[n % 4]}, text: '{sentences(4, n)}'}}" for n in range(20)
    )
    path = write(
        tmp_path,
        "m.yaml",
        f"batch: b\njobs:\n  - id: long\n    kind: dialogue\n    inputs:\n{lines}\n",
    )
    [job] = load_one(path, part_chars=3000).jobs
    assert isinstance(job, DialogueJob) and job.part_chars == 3000
    parts = episode_parts(job)
    assert parts is not None and max(part.chars for part in parts) <= 3000
    [short] = load_one(path, part_chars=5000).jobs  # fits: rendered whole
    assert isinstance(short, DialogueJob) and short.part_chars is None


def test_more_than_ten_voices_running_on_into_one_part_are_refused_where_they_start(
    tmp_path: Path,
) -> None:
    calm = ["episode,voice,text"] + [f"ep1,{VOICES[n % 2]},{sentences(4, n)}" for n in range(20)]
    crowd = [f"ep1,{VOICES[n]},Line {n} of the crowd." for n in range(11)]
    path = write(tmp_path, "season.csv", "\n".join(calm + crowd) + "\n")
    [problem] = problems([path])
    assert problem.file == str(path)
    assert problem.field.startswith("jobs[ep1].inputs[")
    assert problem.line is not None and problem.line <= 22  # the part the crowd starts in
    assert "11 different voices" in problem.message and "part_chars" in problem.message


def test_twelve_voices_spread_over_an_episode_are_accepted(tmp_path: Path) -> None:
    rows = ["episode,voice,text"] + [f"ep1,{VOICES[n // 10]},{sentences(3, n)}" for n in range(120)]
    path = write(tmp_path, "season.csv", "\n".join(rows) + "\n")
    [job] = load_one(path).jobs
    assert isinstance(job, DialogueJob)
    parts = episode_parts(job)
    assert parts is not None and all(len(part.voices) <= 10 for part in parts)
    assert len({line.voice for line in job.inputs}) == 12
