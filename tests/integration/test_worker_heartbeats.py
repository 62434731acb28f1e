"""Heartbeats in SQL: the upsert, liveness, a clean stop, pruning, and the queues nobody serves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from audiobatch.db.models import WorkerProcess, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import insert_batch
from audiobatch.db.workers import (
    KEEP_S,
    LIVE_WITHIN_S,
    SCHEDULER,
    WORKER,
    Announcement,
    heartbeat,
    is_live,
    list_workers,
    mark_stopped,
    prune,
    scheduler_live,
    unserved_queues,
)
from audiobatch.manifest import load_manifests
from audiobatch.worker.heartbeat import Heartbeat


def announcement(name: str, queues: list[str]) -> Announcement:
    return Announcement(f"host:1:{name}", "host", 1, WORKER, queues, 2, "0.1.0", utcnow())


def test_a_heartbeat_inserts_then_updates_one_row_that_is_live_until_it_is_old(
    database_url: str,
) -> None:
    me, now = announcement("a", ["dialogue"]), utcnow()
    with session_scope(database_url) as session:
        heartbeat(session, me, [3, 1], now)
        heartbeat(session, me, {7}, now + timedelta(seconds=5))
    with session_scope(database_url) as session:
        [row] = list_workers(session)
        assert row.jobs_in_hand == [7] and row.last_seen_at == now + timedelta(seconds=5)
        assert is_live(row, now + timedelta(seconds=5 + LIVE_WITHIN_S))
        assert not is_live(row, now + timedelta(seconds=6 + LIVE_WITHIN_S))


def test_a_stopped_process_stays_stopped_whatever_a_late_heartbeat_says(database_url: str) -> None:
    me, now = announcement("a", ["dialogue"]), utcnow()
    with session_scope(database_url) as session:
        heartbeat(session, me, [1], now)
        mark_stopped(session, me.id, now)
        heartbeat(session, me, [1], now)
    with session_scope(database_url) as session:
        [row] = list_workers(session)
        assert row.stopped_at is not None and not is_live(row, now)


def test_rows_gone_for_a_week_are_pruned(database_url: str) -> None:
    now = utcnow()
    with session_scope(database_url) as session:
        heartbeat(session, announcement("old", []), [], now - timedelta(seconds=KEEP_S + 1))
        heartbeat(session, announcement("new", []), [], now)
        assert prune(session, now) == 1
    with session_scope(database_url) as session:
        assert [row.id for row in list_workers(session)] == ["host:1:new"]


def test_unserved_queues_are_those_of_unfinished_jobs_without_a_live_worker(
    database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "batch: mixed\njobs:\n"
        "  - {id: talk, kind: dialogue, inputs: [{voice: JBFqnCBsd6RMkjVDRZzb, text: hi}]}\n"
        "  - {id: song, kind: music, prompt: calm, music_length_ms: 10000}\n"
    )
    [loaded] = load_manifests([manifest])
    with session_scope(database_url) as session:
        batch = insert_batch(session, loaded, utcnow())
    now = utcnow()
    with session_scope(database_url) as session:
        assert unserved_queues(session, [batch.id], now) == ["dialogue", "music"]
        heartbeat(session, announcement("d", ["dialogue", "control"]), [], now)
        stale = announcement("m", ["music"])
        heartbeat(session, stale, [], now - timedelta(seconds=LIVE_WITHIN_S + 1))
        assert unserved_queues(session, [batch.id], now) == ["music"]
        heartbeat(session, announcement("all", ["dialogue", "music", "stems", "voice"]), [], now)
        assert unserved_queues(session, [batch.id], now) == []


def test_a_scheduler_is_live_only_while_a_scheduler_process_beats_not_a_worker(
    database_url: str,
) -> None:
    now = utcnow()
    with session_scope(database_url) as session:
        heartbeat(session, announcement("w", ["control"]), [], now)
        assert not scheduler_live(session, now)
        beat = Announcement("host:2:s", "host", 2, SCHEDULER, [], 0, "0.1.0", now)
        heartbeat(session, beat, [], now - timedelta(seconds=LIVE_WITHIN_S + 1))
        assert not scheduler_live(session, now)
        heartbeat(session, beat, [], now)
        assert scheduler_live(session, now)


def test_the_heartbeat_thread_survives_a_failure_and_marks_a_clean_stop(
    database_url: str,
) -> None:
    calls = iter([RuntimeError("held jobs unreadable")])

    def jobs_in_hand() -> Iterator[int]:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return iter([42])

    beating = Heartbeat(
        database_url, role=WORKER, queues=["dialogue"], concurrency=1,
        jobs_in_hand=jobs_in_hand, interval_s=0.05,
    )  # fmt: skip
    beating.start()
    deadline = time.monotonic() + 10
    while True:
        with session_scope(database_url) as session:
            rows = list_workers(session)
        if rows and rows[0].jobs_in_hand == [42]:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    beating.stop()
    with session_scope(database_url) as session:
        row = session.get_one(WorkerProcess, rows[0].id)
        assert row.stopped_at is not None and row.jobs_in_hand == []
