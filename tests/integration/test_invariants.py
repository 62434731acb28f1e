"""The state's invariants: a consistent state has no breach, and each breach built in SQL is found
with its ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.db import invariants
from audiobatch.db.invariants import Breach
from audiobatch.db.models import Artifact, BatchStatus, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.workers import LIVE_WITHIN_S
from audiobatch.storage.local import LocalStorage
from tests.state import add_batch, heartbeat, hold

LEASE_S = 60.0
Q, R, P, S, F = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.PENDING,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
)


def breaches(url: str) -> list[Breach]:
    with session_scope(url) as session:
        return invariants.state_breaches(session, utcnow(), LEASE_S)


def found(url: str) -> list[tuple[str, list[int | str]]]:
    return [(b.invariant, b.ids) for b in breaches(url)]


def test_a_consistent_state_has_no_breach(database_url: str) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(
            session, "live", BatchStatus.RUNNING,
            {"done": S, "held": Q, "waits": P, "next": Q},
            parents={"waits": ["done", "held"]},
        )  # fmt: skip
        hold(session, ids["held"], "w-live", lease_s=30, claimed_s_ago=600)
        heartbeat(session, "w-live", seen_s_ago=2)
        add_batch(session, "over", BatchStatus.PARTIAL, {"a": S, "b": F})
    assert breaches(database_url) == []


def test_a_running_job_whose_lease_ran_out_or_was_never_set(database_url: str) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(session, "b", BatchStatus.RUNNING, {"expired": Q, "none": Q, "ok": Q})
        hold(session, ids["expired"], "w1", lease_s=-5, claimed_s_ago=1)
        hold(session, ids["none"], "w1", lease_s=None, claimed_s_ago=1)
        hold(session, ids["ok"], "w1", lease_s=30, claimed_s_ago=1)
    assert found(database_url) == [
        ("running_without_lease", [ids["expired"]]),
        ("running_without_lease", [ids["none"]]),
    ]


def test_a_job_held_past_a_lease_by_a_worker_without_a_live_heartbeat(database_url: str) -> None:
    with session_scope(database_url) as session:
        keys = {"silent": Q, "unknown": Q, "stopped": Q, "live": Q, "fresh": Q}
        ids = add_batch(session, "b", BatchStatus.RUNNING, keys)
        for key in keys:
            hold(session, ids[key], f"w-{key}", lease_s=30, claimed_s_ago=LEASE_S + 60)
        hold(session, ids["fresh"], "w-fresh", lease_s=30, claimed_s_ago=1)  # no beat yet
        heartbeat(session, "w-silent", seen_s_ago=LIVE_WITHIN_S + 1)
        heartbeat(session, "w-stopped", seen_s_ago=1, stopped=True)
        heartbeat(session, "w-live", seen_s_ago=1)
    assert found(database_url) == [
        ("running_on_dead_worker", [ids["silent"], "w-silent"]),
        ("running_on_dead_worker", [ids["unknown"], "w-unknown"]),
        ("running_on_dead_worker", [ids["stopped"], "w-stopped"]),
    ]
    assert "never sent a heartbeat" in breaches(database_url)[1].detail


def test_a_pending_job_whose_parents_all_succeeded(database_url: str) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(
            session, "b", BatchStatus.RUNNING,
            {"p1": S, "p2": S, "p3": Q, "ready": P, "waits": P, "orphan": P},
            parents={"ready": ["p1", "p2"], "waits": ["p1", "p3"]},
        )  # fmt: skip
    assert found(database_url) == [
        ("pending_but_ready", [ids["ready"]]),
        ("pending_but_ready", [ids["orphan"]]),  # no parent at all: nothing to wait for
    ]


@pytest.mark.parametrize("gave_up", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_pending_job_whose_parent_gave_up(database_url: str, gave_up: JobStatus) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(
            session, "b", BatchStatus.RUNNING, {"p1": gave_up, "p2": Q, "child": P},
            parents={"child": ["p1", "p2"]},
        )  # fmt: skip
    [breach] = breaches(database_url)
    assert (breach.invariant, breach.ids) == (
        "pending_after_parent_gave_up",
        [ids["child"], ids["p1"]],
    )
    assert gave_up.value in breach.detail


def test_an_ended_batch_with_jobs_still_to_run(database_url: str) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(
            session, "over", BatchStatus.SUCCEEDED, {"a": S, "b": Q, "c": JobStatus.RETRYING}
        )
    [breach] = breaches(database_url)
    assert (breach.invariant, breach.ids) == (
        "ended_batch_with_unended_jobs",
        ["over", ids["b"], ids["c"]],
    )
    assert "2 of its jobs" in breach.detail


def test_a_batch_left_running_when_all_its_jobs_ended(database_url: str) -> None:
    with session_scope(database_url) as session:
        add_batch(session, "stuck", BatchStatus.RUNNING, {"a": S, "b": F})
        add_batch(session, "busy", BatchStatus.RUNNING, {"a": S, "b": Q})
    assert found(database_url) == [("unended_batch_without_jobs_left", ["stuck"])]


def test_outputs_missing_from_storage_or_of_another_size(database_url: str, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "renders")
    whole = storage.write("b/whole.mp3", [b"abc"], "audio/mpeg")
    cut = storage.write("b/cut.mp3", [b"ab"], "audio/mpeg")
    with session_scope(database_url) as session:
        ids = add_batch(session, "b", BatchStatus.SUCCEEDED, {"a": S})
        rows = [
            Artifact(job_id=ids["a"], batch_id="b", name=name, key=key, uri=storage.uri(key),
                     bytes=3, sha256="0" * 64, content_type="audio/mpeg")
            for name, key in [("whole", whole.key), ("cut", cut.key), ("gone", "b/gone.mp3")]
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        artifact_ids = [row.id for row in rows]
    found_ = [(b.invariant, b.ids) for b in invariants.artifact_objects(database_url, storage)]
    assert found_ == [
        ("object_size_differs", [artifact_ids[1], ids["a"]]),
        ("object_missing", [artifact_ids[2], ids["a"]]),
    ]


def test_outputs_are_read_a_page_at_a_time(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invariants, "ARTIFACT_PAGE", 2)
    storage = LocalStorage(tmp_path / "renders")
    with session_scope(database_url) as session:
        ids = add_batch(session, "b", BatchStatus.SUCCEEDED, {"a": S})
        session.add_all(
            Artifact(job_id=ids["a"], batch_id="b", name=f"f{n}", key=f"b/f{n}", uri="u", bytes=1,
                     sha256="0" * 64, content_type="audio/mpeg")
            for n in range(5)
        )  # fmt: skip
    assert len(list(invariants.artifact_objects(database_url, storage))) == 5
