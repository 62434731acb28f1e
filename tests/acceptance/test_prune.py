"""`audiobatch prune` after a rendered batch: nonsense ages refused, the dry run listing exactly what
the real run deletes."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from audiobatch.db.models import Batch, utcnow
from audiobatch.db.session import session_scope
from tests.acceptance.cli import audiobatch, clean_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "age", ["30", "0d", "0m", "-3d", "-5d", "30x", "1.5d", "d", "", "36501d", "999999999d",
            "99999999999999999999d"],
)  # fmt: skip
def test_an_age_that_makes_no_sense_is_refused_with_exit_2(tmp_path: Path, age: str) -> None:
    result = audiobatch("prune", "--older-than", age, cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not an age" in result.stderr and "30d, 12h or 90m" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


def test_the_dry_run_lists_exactly_what_the_run_deletes(tmp_path: Path) -> None:
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
    env = clean_environment()
    rendered = audiobatch("run", "demo.yaml", cwd=tmp_path, env=env)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr

    def prune(*flags: str) -> dict[str, object]:
        result = audiobatch("prune", "--older-than", "30d", "--json", *flags, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        answer: dict[str, object] = json.loads(result.stdout)
        return answer

    assert prune("--dry-run")["batches"] == []  # it ended just now
    with session_scope(f"sqlite:///{tmp_path / '.audiobatch' / 'state.db'}") as session:
        session.execute(update(Batch).values(finished_at=utcnow() - timedelta(days=31)))

    dry, done = prune("--dry-run"), prune()
    assert isinstance(dry["batches"], list) and isinstance(done["batches"], list)
    assert len(dry["batches"]) == 1 and dry["batches"][0]["objects"]
    assert [{**b, "deleted": None} for b in done["batches"]] == dry["batches"]
    assert done["batches"][0]["deleted"] is True and done["failed"] == []
    assert not [p for p in (tmp_path / "renders").rglob("*") if p.is_file()]
    assert prune("--dry-run")["batches"] == []
