"""Retakes: the part of an episode holding a turn renders again with a new seed, through the same
claim, lease and verify path as any render, and the episode is stitched again; the previous
take's outputs stay until the new take's are verified."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from audiobatch.control import retake, retry
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Attempt, Job, JobStatus
from audiobatch.db.operations import Retake
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.errors import NotFoundError, RetakeError
from audiobatch.manifest import load_manifests
from audiobatch.manifest.episodes import episode_parts, part_key
from tests.dashboard_stack import SCRIPT, make_stack
from tests.integration.test_episodes import (
    KEY,
    VOICES,
    emulator,
    local,
    report,
    run_queued,
    runtime,
    season,
    submit,
)
from tests.races import at_once

__all__ = ["emulator"]  # the module's emulator fixture, shared

TURN = 10


def no_publish(_: object) -> None:
    """Wake-ups are not needed: the test runs queued jobs itself."""


def rendered_season(url: str, emulator_url: str, tmp_path: Path) -> str:
    upgrade(url)
    batch_id = submit(url, season(tmp_path, "mp3_22050_32"))
    run_queued(url, runtime(url, emulator_url, tmp_path))
    assert report(url, batch_id)["status"] == "succeeded"
    return batch_id


def holding(tmp_path: Path, turn: int) -> str:
    """The key of the part of the season's pilot that holds ``turn``."""
    [numbered] = [
        number
        for number, part in enumerate(episode_parts(season(tmp_path, "mp3_22050_32").jobs[0]), 1)
        if any(line.turn == turn for line in part.lines)
    ]
    return part_key("pilot", numbered)


def outputs_of(url: str, batch_id: str, key: str) -> dict[str, Path]:
    [job] = [job for job in report(url, batch_id)["jobs"] if job["id"] == key]
    return {output["name"]: local(output) for output in job["outputs"]}


def job_row(url: str, key: str) -> tuple[JobStatus, int, int | None, int]:
    with session_scope(url) as session:
        job = session.scalars(select(Job).where(Job.key == key)).one()
        return job.status, job.take, job.spec.get("seed"), job.attempts


def test_a_retake_renders_the_part_holding_the_turn_again_and_stitches_anew(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    batch_id = rendered_season(database_url, emulator.url, tmp_path)
    part = holding(tmp_path, TURN)
    old_part, old_episode = (outputs_of(database_url, batch_id, k) for k in (part, "pilot"))
    _, _, old_seed, _ = job_row(database_url, part)
    generations = len(httpx.get(f"{emulator.url}/_emulator/ledger").json())

    done = retake(database_url, no_publish, batch_id, episode="pilot", turn=TURN, seed=7)
    assert done.seeds == {part: 7} and old_seed != 7
    assert job_row(database_url, part) == (JobStatus.QUEUED, 2, 7, 0)
    assert job_row(database_url, "pilot")[:2] == (JobStatus.PENDING, 2)
    assert report(database_url, batch_id)["status"] == "running"
    # nothing of the previous take is gone before the new one is verified
    assert all(path.exists() for path in [*old_part.values(), *old_episode.values()])
    assert outputs_of(database_url, batch_id, part) == old_part

    run_queued(database_url, runtime(database_url, emulator.url, tmp_path))
    after = report(database_url, batch_id)
    assert after["status"] == "succeeded"
    assert len(httpx.get(f"{emulator.url}/_emulator/ledger").json()) == generations + 1
    new_part, new_episode = (outputs_of(database_url, batch_id, k) for k in (part, "pilot"))
    assert set(new_part) == set(old_part) and set(new_episode) == set(old_episode)
    for new in [*new_part.values(), *new_episode.values()]:
        assert new.exists() and new.parent.name == "take-2"
    # the previous take's files went once the new take's were committed in their place
    assert not any(path.exists() for path in [*old_part.values(), *old_episode.values()])
    others = [j for j in after["jobs"] if j["part_of"] == "pilot" and j["id"] != part]
    assert others and all(job["attempts"] == 1 for job in others)
    with session_scope(database_url) as session:
        messages = session.scalars(
            select(Attempt.error_message)
            .join(Job, Job.id == Attempt.job_id)
            .where(Job.key.in_([part, "pilot"]), Attempt.outcome == "succeeded")
            .order_by(Attempt.id)
        ).all()
    assert messages[-1:] == ["take 2"]  # the attempt says which take it rendered


def test_a_retake_that_fails_keeps_the_previous_take_and_retry_finishes_it(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    batch_id = rendered_season(database_url, emulator.url, tmp_path)
    part = holding(tmp_path, TURN)
    old_part = outputs_of(database_url, batch_id, part)
    old_bytes = {name: path.read_bytes() for name, path in old_part.items()}

    retake(database_url, no_publish, batch_id, episode="pilot", turn=TURN)
    failing = EmulatorConfig(api_keys=frozenset({KEY}), fault_rate=1.0, faults=("500",))
    with serve_in_thread(failing) as broken:
        run_queued(database_url, runtime(database_url, broken.url, tmp_path, max_attempts=1))
    failed = report(database_url, batch_id)
    assert failed["status"] == "partial"
    by_key = {job["id"]: job for job in failed["jobs"]}
    assert by_key[part]["status"] == "failed" and by_key[part]["error"]
    assert by_key["pilot"]["error"] == "dependency failed"
    # the failed take stored nothing in place of the previous one, which is still recorded
    assert outputs_of(database_url, batch_id, part) == old_part
    assert {name: path.read_bytes() for name, path in old_part.items()} == old_bytes

    assert retry(database_url, no_publish, batch_id, job_key="pilot").jobs == 2
    run_queued(database_url, runtime(database_url, emulator.url, tmp_path))
    assert report(database_url, batch_id)["status"] == "succeeded"
    assert all(p.parent.name == "take-2" for p in outputs_of(database_url, batch_id, part).values())


def test_a_retake_is_refused_with_what_to_do_where_it_cannot_be_made(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    manifest = tmp_path / "short.yaml"
    manifest.write_text(
        f"batch: short\njobs:\n  - id: hello\n    kind: dialogue\n"
        f"    inputs: [{{voice: {VOICES[0]}, text: Hi there.}}]\n"
    )
    [short] = load_manifests([manifest])
    short_id = submit(sqlite_url, short)
    with pytest.raises(RetakeError, match=r"'hello' of batch short .* is not an episode"):
        retake(sqlite_url, no_publish, short_id, episode="hello", turn=0)
    with pytest.raises(NotFoundError, match="no job 'nope'"):
        retake(sqlite_url, no_publish, short_id, episode="nope", turn=0)

    batch_id = submit(sqlite_url, season(tmp_path, "pcm_16000"))
    with pytest.raises(RetakeError, match=r"still rendering \(pilot is pending, pilot/part-"):
        retake(sqlite_url, no_publish, batch_id, episode="pilot", turn=0)
    run_queued(sqlite_url, runtime(sqlite_url, emulator.url, tmp_path))
    with pytest.raises(RetakeError, match="has turns 0 to 23, not turn 24"):
        retake(sqlite_url, no_publish, batch_id, episode="pilot", turn=24)
    with pytest.raises(RetakeError, match=r"is a part, not an episode: .* --job pilot"):
        retake(sqlite_url, no_publish, batch_id, episode="pilot/part-001", turn=0)


def test_the_dashboard_offers_a_retake_of_each_part_on_the_episode_s_page(
    postgres_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    stack = make_stack(postgres_url, tmp_path)
    with stack.client:
        batch_id = submit(postgres_url, season(tmp_path, "pcm_16000"))
        run_queued(postgres_url, runtime(postgres_url, emulator.url, tmp_path))
        with session_scope(postgres_url) as session:
            ids = dict(
                session.execute(select(Job.key, Job.id).where(Job.batch_id == batch_id)).all()
            )
        page = stack.client.get(f"/jobs/{ids['pilot']}").text
        parts = [key for key in ids if key.startswith("pilot/")]
        for key in parts:
            assert f'action="/api/jobs/{ids[key]}/retake?next=' in page
        assert (
            f'action="/api/jobs/{ids["pilot/part-002"]}/retake?next='
            in stack.client.get(f"/jobs/{ids['pilot/part-002']}").text
        )

        answer = stack.client.post(
            f"/api/jobs/{ids['pilot/part-002']}/retake", params={"seed": 11}, headers=SCRIPT
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"].startswith("pilot/part-002 of ")
        assert job_row(postgres_url, "pilot/part-002") == (JobStatus.QUEUED, 2, 11, 0)
        again = stack.client.post(f"/api/jobs/{ids['pilot/part-001']}/retake", headers=SCRIPT)
        assert again.status_code == 422 and "still rendering" in again.text
        whole = stack.client.post(f"/api/jobs/{ids['pilot']}/retake", headers=SCRIPT)
        assert whole.status_code == 422 and "is an episode: name a turn" in whole.text
        # the page of a running episode offers no retake
        page = stack.client.get(f"/jobs/{ids['pilot']}").text
        assert "/retake?next=" not in page
    run_queued(postgres_url, runtime(postgres_url, emulator.url, tmp_path))
    assert report(postgres_url, batch_id)["status"] == "succeeded"


def test_of_two_retakes_at_once_one_wins_and_the_other_is_refused(
    postgres_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    batch_id = rendered_season(postgres_url, emulator.url, tmp_path)
    part = holding(tmp_path, TURN)

    def take(seed: int) -> Retake | RetakeError:
        try:
            return retake(postgres_url, no_publish, batch_id, episode="pilot", turn=TURN, seed=seed)
        except RetakeError as exc:
            return exc

    outcomes = at_once([partial(take, seed) for seed in (21, 22)])
    [won] = [o for o in outcomes if not isinstance(o, RetakeError)]
    [refused] = [o for o in outcomes if isinstance(o, RetakeError)]
    assert "still rendering" in str(refused)
    status, take_number, seed, _ = job_row(postgres_url, part)
    assert (status, take_number) == (JobStatus.QUEUED, 2)
    assert isinstance(won, Retake) and won.seeds == {part: seed}
