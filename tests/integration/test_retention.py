"""Pruning: ended batches older than the cutoff go with every row referring to them, their stored
objects and their upload folders; nothing else goes, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from audiobatch import control
from audiobatch.db import operations
from audiobatch.db.models import (
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    CatchUpPolicy,
    FiringOutcome,
    Job,
    JobDependency,
    JobStatus,
    OverlapPolicy,
    PendingDeletion,
    Schedule,
    ScheduleFiring,
    utcnow,
)
from audiobatch.db.reports import find_batch
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, serve_in_thread
from audiobatch.errors import NotFoundError
from audiobatch.render.runner import Runtime, run_job
from audiobatch.retention import PruneReport, finish_pending, plan_prune, prune
from audiobatch.storage import Storage, open_storage
from audiobatch.storage.local import LocalStorage
from tests.integration.test_render_pipeline import DIALOGUE, manifest, outputs_of, runtime, submit
from tests.races import at_once
from tests.state import add_batch

S = JobStatus.SUCCEEDED
DAY = timedelta(days=1)


def _batch(
    session: Session,
    storage: Storage,
    batch_id: str,
    status: BatchStatus,
    *,
    ended_days_ago: float,
    upload: Path | None = None,
) -> None:
    """A batch with two jobs (``b`` reads ``a``), an attempt and a stored output each, its
    ``results.json``, and the upload folder it reads from, ended ``ended_days_ago``."""
    ids = add_batch(session, batch_id, status, {"a": S, "b": S}, parents={"b": ["a"]})
    batch = session.get_one(Batch, batch_id)
    batch.finished_at = utcnow() - ended_days_ago * DAY
    if upload is not None:
        upload.mkdir(parents=True)
        (upload / "line.wav").write_bytes(b"RIFF")
        batch.source_roots = [str(upload)]
    for key, job_id in ids.items():
        stored = storage.write(f"{batch_id}/{batch_id}/{key}/audio.mp3", [b"ID3"], "audio/mpeg")
        session.add(
            Artifact(
                job_id=job_id, batch_id=batch_id, name="audio.mp3", key=stored.key,
                uri=stored.uri, bytes=stored.bytes, sha256=stored.sha256,
                content_type="audio/mpeg",
            )
        )  # fmt: skip
        session.add(
            Attempt(
                job_id=job_id, batch_id=batch_id, number=1, worker="w", started_at=utcnow(),
                finished_at=utcnow(), outcome="succeeded", latency_ms=5,
            )
        )  # fmt: skip
    storage.write(f"{batch_id}/{batch_id}/results.json", [b"{}"], "application/json")


def _count(session: Session, table: type, batch_id: str) -> int:
    column = table.job_id if table is JobDependency else table.batch_id  # type: ignore[attr-defined]
    if table is JobDependency:
        jobs = select(Job.id).where(Job.batch_id == batch_id)
        return session.scalar(select(func.count()).where(column.in_(jobs))) or 0
    return session.scalar(select(func.count()).where(column == batch_id)) or 0


def test_ended_batches_older_than_the_cutoff_go_with_their_rows_objects_and_uploads(
    database_url: str, tmp_path: Path
) -> None:
    storage = open_storage(f"file://{tmp_path / 'store'}")
    uploads = tmp_path / "home" / "uploads"
    with session_scope(database_url) as session:
        session.add(
            Schedule(
                id=1, name="nightly", cron="0 3 * * *", timezone="UTC", manifest="/m.yaml",
                overlap=OverlapPolicy.SKIP, catch_up=CatchUpPolicy.SKIP, next_slot_at=utcnow(),
            )
        )  # fmt: skip
        for batch_id, status in [
            ("old-ok", BatchStatus.SUCCEEDED), ("old-partial", BatchStatus.PARTIAL),
            ("old-failed", BatchStatus.FAILED), ("old-cancelled", BatchStatus.CANCELLED),
            ("old-queued", BatchStatus.QUEUED), ("old-running", BatchStatus.RUNNING),
            ("old-paused", BatchStatus.PAUSED),
        ]:  # fmt: skip
            upload = uploads / batch_id if batch_id == "old-ok" else None
            _batch(session, storage, batch_id, status, ended_days_ago=40, upload=upload)
        _batch(session, storage, "recent", BatchStatus.SUCCEEDED, ended_days_ago=3)
        session.flush()
        session.add(
            ScheduleFiring(
                schedule_id=1, slot_at=utcnow(), fired_at=utcnow(),
                outcome=FiringOutcome.FIRED, batch_id="old-ok",
            )
        )  # fmt: skip
    cutoff = utcnow() - 30 * DAY

    dry = plan_prune(database_url, storage, uploads, cutoff)
    planned = {batch.id for batch in dry.batches}
    assert planned == {"old-ok", "old-partial", "old-failed", "old-cancelled"}
    assert sorted(dry.objects["old-ok"]) == [
        "old-ok/old-ok/a/audio.mp3", "old-ok/old-ok/b/audio.mp3", "old-ok/old-ok/results.json",
    ]  # fmt: skip
    assert dry.folders["old-ok"] == [str((uploads / "old-ok").resolve())]
    assert next(b for b in dry.batches if b.id == "old-ok").outputs == 2

    report = prune(database_url, storage, plan_prune(database_url, storage, uploads, cutoff))
    assert set(report.pruned) == planned and not report.failed
    assert report.removed == sum(len(keys) for keys in dry.objects.values()) + 1

    with session_scope(database_url) as session:
        left = set(session.scalars(select(Batch.id)))
        assert left == {"old-queued", "old-running", "old-paused", "recent"}
        for batch_id in planned:
            for table in (Job, Attempt, Artifact, JobDependency):
                assert _count(session, table, batch_id) == 0, (table, batch_id)
        for batch_id in left:
            assert _count(session, Artifact, batch_id) == 2
            assert _count(session, JobDependency, batch_id) == 1
        assert session.scalar(select(ScheduleFiring.batch_id)) is None
        assert session.scalar(select(func.count()).select_from(PendingDeletion)) == 0
    assert not any(True for batch_id in planned for _ in storage.keys(f"{batch_id}/{batch_id}"))
    assert not (uploads / "old-ok").exists()
    assert all(len(list(storage.keys(f"{b}/{b}"))) == 3 for b in left)


def test_an_object_a_remaining_batch_s_output_points_at_is_kept(
    database_url: str, tmp_path: Path
) -> None:
    storage = open_storage(f"file://{tmp_path / 'store'}")
    with session_scope(database_url) as session:
        _batch(session, storage, "old", BatchStatus.SUCCEEDED, ended_days_ago=40)
        _batch(session, storage, "new", BatchStatus.SUCCEEDED, ended_days_ago=1)
        session.flush()
        # the later batch's output row points at the earlier batch's object
        row = session.scalars(select(Artifact).where(Artifact.batch_id == "new")).first()
        assert row is not None
        row.key = "old/old/a/audio.mp3"
    plan = plan_prune(database_url, storage, tmp_path / "uploads", utcnow() - 30 * DAY)
    assert sorted(plan.objects["old"]) == ["old/old/b/audio.mp3", "old/old/results.json"]
    prune(database_url, storage, plan)
    assert list(storage.keys("old/old")) == ["old/old/a/audio.mp3"]


def test_a_removal_that_fails_is_reported_and_the_next_prune_finishes_it(
    database_url: str, tmp_path: Path
) -> None:
    storage = open_storage(f"file://{tmp_path / 'store'}")
    with session_scope(database_url) as session:
        _batch(session, storage, "old", BatchStatus.FAILED, ended_days_ago=40)
    plan = plan_prune(database_url, storage, tmp_path / "uploads", utcnow() - 30 * DAY)
    # a store whose root is a file: every removal fails
    (tmp_path / "not-a-folder").write_bytes(b"")
    broken = open_storage(f"file://{tmp_path / 'not-a-folder'}")

    report = prune(database_url, broken, plan)
    assert report.pruned == ["old"] and report.removed == 0
    assert sorted(target for target, _ in report.failed) == sorted(plan.objects["old"])
    with session_scope(database_url) as session:
        assert session.get(Batch, "old") is None
    assert len(list(storage.keys("old/old"))) == 3

    again = plan_prune(database_url, storage, tmp_path / "uploads", utcnow() - 30 * DAY)
    assert again.batches == [] and len(again.earlier) == 3
    finished = finish_pending(database_url, storage)
    assert finished.removed == 3 and not finished.failed
    assert list(storage.keys("old/old")) == []


def _prune_expired(database_url: str, storage: Storage, uploads: Path) -> PruneReport:
    return prune(
        database_url, storage, plan_prune(database_url, storage, uploads, utcnow() - 30 * DAY)
    )


def _pending(database_url: str) -> list[str]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(PendingDeletion.target)))


@pytest.mark.parametrize("action", ["retry", "resume"])
def test_a_prune_racing_a_retry_or_resume_either_deletes_the_batch_or_leaves_it_whole(
    migrated_postgres_url: str, tmp_path: Path, action: str
) -> None:
    url, storage = migrated_postgres_url, open_storage(f"file://{tmp_path / 'store'}")
    with session_scope(url) as session:
        _batch(session, storage, "old", BatchStatus.FAILED, ended_days_ago=40)
        session.execute(update(Job).where(Job.key == "b").values(status=JobStatus.FAILED))
    operate = control.retry if action == "retry" else control.resume

    def operator() -> str:
        try:
            operate(url, lambda _: None, "old")
        except NotFoundError:
            return "gone"
        return "done"

    report, answer = at_once([lambda: _prune_expired(url, storage, tmp_path / "up"), operator])
    with session_scope(url) as session:
        batch = session.get(Batch, "old")
        if batch is None:
            assert report.pruned == ["old"] and not report.failed
            assert list(storage.keys("old/old")) == []
            # a resume before the prune changes nothing of an ended batch: it goes all the same
            assert answer == "gone" or action == "resume"
        else:
            assert report.pruned == [] and answer == "done"
            expected = BatchStatus.RUNNING if action == "retry" else BatchStatus.FAILED
            assert batch.status is expected
            assert len(list(storage.keys("old/old"))) == 3
    assert _pending(url) == []


@pytest.mark.parametrize("action", [operations.retry_failed, operations.resume])
def test_a_retry_or_resume_of_a_batch_pruned_since_it_was_found_says_so(
    migrated_postgres_url: str, tmp_path: Path, action: Callable[[Session, Batch], int]
) -> None:
    url, storage = migrated_postgres_url, open_storage(f"file://{tmp_path / 'store'}")
    with session_scope(url) as session:
        _batch(session, storage, "old", BatchStatus.FAILED, ended_days_ago=40)
    gone = pytest.raises(NotFoundError, match=r"batch old \[old\] was deleted meanwhile")
    with gone, session_scope(url) as session:
        found = find_batch(session, "old")
        assert _prune_expired(url, storage, tmp_path / "up").pruned == ["old"]
        action(session, found)


def test_two_prunes_at_once_remove_everything_once_and_report_no_failure(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    url, storage = migrated_postgres_url, open_storage(f"file://{tmp_path / 'store'}")
    uploads = tmp_path / "uploads"
    with session_scope(url) as session:
        for batch_id in ("one", "two"):
            _batch(session, storage, batch_id, BatchStatus.SUCCEEDED, ended_days_ago=40,
                   upload=uploads / batch_id)  # fmt: skip
        _batch(session, storage, "kept", BatchStatus.SUCCEEDED, ended_days_ago=1)
    first, second = at_once([lambda: _prune_expired(url, storage, uploads)] * 2)
    assert sorted(first.pruned + second.pruned) == ["one", "two"]
    assert first.failed == [] and second.failed == [], (first.failed, second.failed)
    assert _pending(url) == []
    assert [b for b in ("one", "two") if list(storage.keys(f"{b}/{b}"))] == []
    assert not any(uploads.iterdir())
    assert len(list(storage.keys("kept/kept"))) == 3


class _PrunedAtFirstRead(LocalStorage):
    """A store whose first read begins with a prune: a job that found an earlier identical job's
    outputs then reads them just as a prune removes that job's batch."""

    def __init__(self, root: Path, database_url: str) -> None:
        super().__init__(root)
        self.database_url = database_url
        self.pruned: list[str] = []

    def read(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        if not self.pruned:
            self.pruned = _prune_expired(self.database_url, self, self.root / "uploads").pruned
        return super().read(key, chunk_bytes)


def same_request_after_its_batch_expired(database_url: str, tmp_path: Path, rt: Runtime) -> int:
    """A job rendered by ``rt`` in a batch that ended 40 days ago, and the id of a job of a new
    batch making the same request (which reuses its outputs)."""
    old = submit(database_url, manifest(tmp_path, DIALOGUE))["line"]
    run_job(old, rt)
    with session_scope(database_url) as session:
        session.execute(update(Batch).values(finished_at=utcnow() - 40 * DAY))
    return submit(database_url, manifest(tmp_path, DIALOGUE))["line"]


def test_a_job_reusing_the_outputs_of_a_batch_pruned_meanwhile_renders_them_again(
    database_url: str, tmp_path: Path
) -> None:
    with serve_in_thread(EmulatorConfig()) as emulator:
        rt, _ = runtime(database_url, emulator, tmp_path)
        new = same_request_after_its_batch_expired(database_url, tmp_path, rt)
        rt.storage = store = _PrunedAtFirstRead(tmp_path / "renders", database_url)
        run_job(new, rt)
    assert len(store.pruned) == 1
    job, artifacts = outputs_of(database_url, new)
    assert (job.status, job.cached_from, job.error) == (JobStatus.SUCCEEDED, None, None)
    assert artifacts and all(store.size(a.key) == a.bytes for a in artifacts)


def test_a_job_reusing_outputs_while_their_batch_is_pruned_ends_with_its_own_stored(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    url = migrated_postgres_url
    with serve_in_thread(EmulatorConfig()) as emulator:
        rt, _ = runtime(url, emulator, tmp_path)
        new = same_request_after_its_batch_expired(url, tmp_path, rt)
        _, report = at_once(
            [lambda: run_job(new, rt), lambda: _prune_expired(url, rt.storage, tmp_path / "up")]
        )
    assert len(report.pruned) == 1 and not report.failed
    job, artifacts = outputs_of(url, new)
    assert job.status is JobStatus.SUCCEEDED and job.error is None
    assert artifacts and all(rt.storage.size(a.key) == a.bytes for a in artifacts)
