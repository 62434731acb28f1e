"""What a wait shows of a batch: its episodes being stitched, and its ETA or why there is none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from audiobatch.batch_states import BatchState, batch_states
from audiobatch.cli.progress import describe
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.db.workers import JOB_QUEUES, WORKER, Announcement, heartbeat
from audiobatch.eta import MEASURING, NO_LIVE_WORKER, PAUSED
from audiobatch.manifest import load_manifests

VOICE = "JBFqnCBsd6RMkjVDRZzb"


def submit_episode(url: str, folder: Path) -> str:
    """A batch of one episode cut into several parts, and one short job."""
    rows = ["episode,voice,text"]
    rows += [
        f'pilot,host,"Turn {n} of the pilot, long enough to fill a part soon."' for n in range(40)
    ]
    rows.append("trailer,host,A short one.")
    path = folder / "season.csv"
    path.write_text("\n".join(rows) + "\n")
    [manifest] = load_manifests([path], voices={"host": VOICE}, part_chars=800)
    upgrade(url)
    with session_scope(url) as session:
        return insert_batch(session, manifest, utcnow() - timedelta(seconds=30)).id


def live_worker(url: str) -> None:
    me = Announcement("host:1:w", "host", 1, WORKER, sorted(JOB_QUEUES), 2, "0.1.0", utcnow())
    with session_scope(url) as session:
        heartbeat(session, me, [], utcnow())


def state_of(url: str, batch_id: str) -> BatchState:
    return batch_states(url, [batch_id])[batch_id]


def test_an_episode_whose_parts_are_all_rendered_shows_as_stitching(
    database_url: str, tmp_path: Path
) -> None:
    batch_id = submit_episode(database_url, tmp_path)
    live_worker(database_url)
    assert state_of(database_url, batch_id).stitching == 0
    with session_scope(database_url) as session:
        parts = Job.batch_id == batch_id, Job.part_of.is_not(None)
        session.execute(
            update(Job).where(*parts).values(status=JobStatus.SUCCEEDED, finished_at=utcnow())
        )
        session.execute(
            update(Job).where(Job.batch_id == batch_id, Job.key == "pilot")
            .values(status=JobStatus.RUNNING)
        )  # fmt: skip
        session.execute(
            update(Batch).where(Batch.id == batch_id).values(status=BatchStatus.RUNNING)
        )
    state = state_of(database_url, batch_id)
    assert state.stitching == 1
    assert "stitching 1 episode" in describe(state)
    # the parts ended within the rate window: the two jobs left have an ETA
    assert state.eta.seconds_left is not None and state.eta.seconds_left > 0
    assert "ETA " in describe(state)


def test_the_eta_is_hidden_with_its_reason_until_it_can_be_estimated(
    database_url: str, tmp_path: Path
) -> None:
    batch_id = submit_episode(database_url, tmp_path)
    assert state_of(database_url, batch_id).eta.reason == NO_LIVE_WORKER
    assert f"no ETA: {NO_LIVE_WORKER}" in describe(state_of(database_url, batch_id))
    live_worker(database_url)
    assert state_of(database_url, batch_id).eta.reason == MEASURING
    with session_scope(database_url) as session:
        session.execute(update(Batch).where(Batch.id == batch_id).values(status=BatchStatus.PAUSED))
    assert state_of(database_url, batch_id).eta.reason == PAUSED
