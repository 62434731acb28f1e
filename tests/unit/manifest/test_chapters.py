"""``chapters:`` of a dialogue job: titles at turns, refused where they do not fit, and one
chapter per episode of a CSV season."""

from __future__ import annotations

from pathlib import Path

from audiobatch.manifest import DialogueJob
from tests.unit.manifest.helpers import GUEST, HOST, load_one, problems, write

SHOW = """
    batch: show
    voices: {host: %s, guest: %s}
    jobs:
      - id: talk
        kind: dialogue
        timestamps: %s
        inputs:
          - {voice: host, text: "Welcome."}
          - {voice: guest, text: "Thanks."}
          - {voice: host, text: "Let us begin."}
        chapters:
          - {turn: 0, title: Hello}
          - {turn: %s, title: Start}
"""


def show(tmp_path: Path, *, turn: int = 2, timestamps: str = "true") -> Path:
    return write(tmp_path, "show.yaml", SHOW % (HOST, GUEST, timestamps, turn))


def test_chapters_are_titles_at_turns(tmp_path: Path) -> None:
    job = load_one(show(tmp_path)).job("talk")
    assert isinstance(job, DialogueJob) and job.chapters is not None
    assert [(c.turn, c.title) for c in job.chapters] == [(0, "Hello"), (2, "Start")]
    assert job.model_dump(mode="json")["chapters"][1] == {"turn": 2, "title": "Start"}


def test_a_job_without_chapters_dumps_as_before_they_existed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "plain.yaml",
        f"""
        batch: plain
        jobs:
          - id: a
            kind: dialogue
            inputs: [{{voice: {HOST}, text: "Hi"}}]
        """,
    )
    assert "chapters" not in load_one(path).job("a").model_dump(mode="json")


def test_a_chapter_at_a_turn_that_does_not_exist_is_refused_at_its_line(tmp_path: Path) -> None:
    [problem] = problems([show(tmp_path, turn=3)])
    assert (problem.line, problem.field) == (11, "jobs[talk].chapters")
    assert "chapter 1 ('Start') is at turn 3" in problem.message
    assert "turns are 0 to 2" in problem.message


def test_chapters_out_of_order_or_without_timestamps_are_refused(tmp_path: Path) -> None:
    [backwards] = problems([show(tmp_path, turn=0)])
    assert "not after the chapter before it" in backwards.message
    [untimed] = problems([show(tmp_path, timestamps="false")])
    assert untimed.field == "jobs[talk].chapters" and "timestamps: true" in untimed.message


def test_each_episode_of_a_season_is_one_chapter_unless_timestamps_are_off(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "season.csv",
        """
        episode,voice,text
        ep01,host,Hello.
        ep01,guest,Hi.
        ep02,host,Again.
        """,
    )
    voices = {"host": HOST, "guest": GUEST}
    season = load_one(path, voices=voices)
    for episode in ("ep01", "ep02"):
        job = season.job(episode)
        assert isinstance(job, DialogueJob) and job.chapters is not None
        assert [(c.turn, c.title) for c in job.chapters] == [(0, episode)]
    untimed = load_one(path, voices=voices, defaults={"timestamps": False}).job("ep01")
    assert isinstance(untimed, DialogueJob) and untimed.chapters is None
