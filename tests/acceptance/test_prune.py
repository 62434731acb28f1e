"""`audiobatch prune` after rendered batches: nonsense ages refused, the dry run listing exactly what
the real run deletes, and a prune killed at any step finished by the next one, nothing else
touched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from audiobatch.db.models import Batch, BatchStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.storage import Storage, open_storage
from audiobatch.storage.s3 import S3Storage
from tests.acceptance.cli import audiobatch, clean_environment

REPO = Path(__file__).resolve().parents[2]
DAY = timedelta(days=1)
# `audiobatch prune --older-than 30d` killed (SIGKILL) once it has removed KILL_AT objects and
# folders: its rows deleted and its removals recorded as pending, some of them done
KILLED_PRUNE = """
import os, signal, sys
from audiobatch import retention
from audiobatch.cli import main

kill_at, removed, remove = int(sys.argv[1]), [], retention._remove

def remove_then_die(storage, item):
    if len(removed) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    remove(storage, item)
    removed.append(item)

retention._remove = remove_then_die
sys.argv = ["audiobatch", "prune", "--older-than", "30d"]
main()
"""


@pytest.mark.parametrize(
    "age", ["30", "0d", "0m", "-3d", "-5d", "30x", "1.5d", "d", "", "36501d", "999999999d",
            "99999999999999999999d"],
)  # fmt: skip
def test_an_age_that_makes_no_sense_is_refused_with_exit_2(tmp_path: Path, age: str) -> None:
    result = audiobatch("prune", "--older-than", age, cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not an age" in result.stderr and "30d, 12h or 90m" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


class Home:
    """A folder where ``audiobatch run`` rendered the demo twice (the second run reusing the
    first's outputs) into ``store`` (the folder ``renders`` by default), with its SQLite state."""

    def __init__(self, tmp_path: Path, store: Storage | None = None, **env: str) -> None:
        self.cwd, self.env = tmp_path, clean_environment(**env)
        self.store = store or open_storage(f"file://{tmp_path / 'renders'}")
        shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
        for _ in range(2):
            rendered = self.run("run", "demo.yaml")
            assert rendered.returncode == 0, rendered.stdout + rendered.stderr
        self.first, self.second = [b["id"] for b in reversed(self.json("status"))]
        self.url = f"sqlite:///{tmp_path / '.audiobatch' / 'state.db'}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return audiobatch(*args, cwd=self.cwd, env=self.env)

    def json(self, *args: str) -> object:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def prune(self, *flags: str) -> dict[str, object]:
        answer = self.json("prune", "--older-than", "30d", *flags)
        assert isinstance(answer, dict)
        return answer

    def set_batch(self, batch_id: str, **values: object) -> None:
        with session_scope(self.url) as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(**values))

    def files(self) -> set[str]:
        return set(self.store.keys("demo"))

    def assert_intact(self, batch_id: str) -> None:
        """Status, jobs and verify of the batch answer as after its run."""
        status = self.json("status", batch_id)
        assert isinstance(status, dict) and status["status"] == "succeeded"
        jobs = self.json("jobs", batch_id)
        assert isinstance(jobs, list) and {j["status"] for j in jobs} == {"succeeded"}
        verified = self.run("verify", batch_id)
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_dry_run_lists_exactly_what_the_run_deletes(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert home.prune("--dry-run")["batches"] == []  # both ended just now
    home.set_batch(home.first, finished_at=utcnow() - 31 * DAY)
    # the second is running again since 40 days ago; it ends between the dry run and the run
    home.set_batch(home.second, status=BatchStatus.RUNNING, finished_at=None,
                   created_at=utcnow() - 40 * DAY)  # fmt: skip
    before = home.files()

    dry = home.prune("--dry-run")
    told = home.run("prune", "--older-than", "30d", "--dry-run").stdout.splitlines()
    assert told[-1].startswith("would delete 1 batch(es) (ended before ")
    home.set_batch(home.second, status=BatchStatus.SUCCEEDED, finished_at=utcnow())
    done = home.prune()
    assert isinstance(dry["batches"], list) and isinstance(done["batches"], list)
    assert [b["id"] for b in dry["batches"]] == [home.first] and dry["batches"][0]["objects"]
    assert [{**b, "deleted": None} for b in done["batches"]] == dry["batches"]
    assert done["batches"][0]["deleted"] is True and done["failed"] == []
    assert before - home.files() == set(dry["batches"][0]["objects"])
    assert all(f.startswith(f"demo/{home.second}/") for f in home.files())
    home.assert_intact(home.second)
    assert home.prune("--dry-run")["batches"] == []


@pytest.fixture(params=["local", "s3"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Home:
    """The demo rendered twice into a local folder, or into a bucket of moto's S3 server."""
    if request.param == "local":
        return Home(tmp_path)
    server: str = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    return Home(
        tmp_path, S3Storage(bucket, "renders", endpoint_url=server),
        AUDIOBATCH_STORAGE_URL=f"s3://{bucket}/renders", AWS_ENDPOINT_URL=server,
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip


@pytest.mark.parametrize("step", ["before any removal", "halfway through the removals"])
def test_a_prune_killed_at_any_step_is_finished_by_the_next_one(home: Home, step: str) -> None:
    home.set_batch(home.first, finished_at=utcnow() - 31 * DAY)
    [planned] = home.prune("--dry-run")["batches"]  # type: ignore[misc]
    assert isinstance(planned, dict)
    objects, kept = set(planned["objects"]), home.files() - set(planned["objects"])
    kill_at = 0 if step == "before any removal" else len(objects) // 2

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PRUNE, str(kill_at)],
        cwd=home.cwd, env=home.env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert len(objects & home.files()) == len(objects) - kill_at
    assert home.run("status", home.first).returncode != 0  # its rows went

    again = home.prune()
    assert again["batches"] == [] and again["failed"] == []
    assert {p["target"] for p in again["pending"]} == objects  # type: ignore[union-attr]
    assert again["removed"] == len(objects)
    assert home.files() == kept
    home.assert_intact(home.second)
    assert home.prune("--dry-run") | {"cutoff": None} == {
        "dry_run": True, "cutoff": None, "batches": [], "pending": [], "removed": None,
        "failed": [],
    }  # fmt: skip
