"""``audiobatch check`` as a user runs it: exit 0 on a consistent state, 1 with every breach."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from audiobatch.db.models import Batch, BatchStatus, JobStatus, Tally
from audiobatch.db.session import session_scope
from tests.acceptance.cli import audiobatch, clean_environment
from tests.state import add_batch, hold


def check(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = clean_environment(
        AUDIOBATCH_DATABASE_URL=database_url,
        AUDIOBATCH_HOME=str(tmp_path / "home"),
        AUDIOBATCH_STORAGE_URL=f"file://{tmp_path / 'renders'}",
    )
    done = audiobatch("check", *args, cwd=tmp_path, env=env, timeout_s=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout


def test_a_consistent_state_checks_clean(database_url: str, tmp_path: Path) -> None:
    with session_scope(database_url) as session:
        add_batch(session, "over", BatchStatus.SUCCEEDED, {"a": JobStatus.SUCCEEDED})
    assert check(database_url, tmp_path) == (0, "every invariant holds\n")
    code, shown = check(database_url, tmp_path, "--json", "--objects")
    assert (code, json.loads(shown)) == (0, {"breaches": []})


def test_kept_counts_that_drifted_are_a_breach_until_fix_recounts_them(
    database_url: str, tmp_path: Path
) -> None:
    with session_scope(database_url) as session:
        add_batch(session, "over", BatchStatus.SUCCEEDED, {"a": JobStatus.SUCCEEDED})
        batch_id = session.scalars(select(Batch.id)).one()
        session.add(Tally(batch_id=batch_id, name="jobs:succeeded", value=2))
    code, shown = check(database_url, tmp_path, "--json")
    assert (code, json.loads(shown)["breaches"]) == (
        1,
        [
            {
                "invariant": "kept_count_drift",
                "ids": [batch_id],
                "detail": f"batch {batch_id}: jobs:succeeded kept as 3, counted 1",
            }
        ],
    )
    code, shown = check(database_url, tmp_path, "--fix")
    assert code == 0
    assert "jobs:succeeded kept as 3, counted 1 (repaired)" in shown
    assert check(database_url, tmp_path) == (0, "every invariant holds\n")


def test_each_breach_is_listed_with_its_ids_and_the_check_fails(
    database_url: str, tmp_path: Path
) -> None:
    with session_scope(database_url) as session:
        ids = add_batch(session, "stuck", BatchStatus.RUNNING, {"a": JobStatus.QUEUED})
        hold(session, ids["a"], "w-gone", lease_s=-60, claimed_s_ago=3600)
    code, shown = check(database_url, tmp_path, "--json")
    assert code == 1
    assert [(b["invariant"], b["ids"]) for b in json.loads(shown)["breaches"]] == [
        ("running_without_lease", [ids["a"]]),
        ("running_on_dead_worker", [ids["a"], "w-gone"]),
    ]
    code, shown = check(database_url, tmp_path)
    assert code == 1
    assert f"running_without_lease: job {ids['a']} is running, held by w-gone" in shown
    assert shown.endswith("2 breach(es)\n")
