"""`schedule add` refuses, with exit 2 and nothing written, a local manifest that is missing or
invalid and a time zone that does not exist (naming the closest that does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment


@pytest.mark.parametrize(
    ("manifest", "timezone", "says"),
    [
        ("missing.yaml", "UTC", "error: manifest 'missing.yaml': no such file"),
        ("empty.yaml", "UTC", "invalid manifest: 1 problem(s)"),
        ("good.yaml", "Europe/Berln", "unknown time zone 'Europe/Berln' (did you mean"),
    ],
)
def test_schedule_add_refuses_what_would_fail_every_night(
    tmp_path: Path, manifest: str, timezone: str, says: str
) -> None:
    (tmp_path / "empty.yaml").write_text("batch: b\njobs: []\n")
    (tmp_path / "good.yaml").write_text(
        "batch: b\njobs: [{id: a, kind: music, prompt: x, music_length_ms: 3000}]\n"
    )
    env = clean_environment()
    added = audiobatch(
        "schedule", "add", "nightly", "--cron", "@daily", "--manifest", manifest,
        "--timezone", timezone, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert added.returncode == 2, added.stdout + added.stderr
    assert says in added.stderr
    listed = audiobatch("schedule", "list", "--json", cwd=tmp_path, env=env)
    assert json.loads(listed.stdout) == []


def test_schedule_add_warns_when_no_live_scheduler_would_fire_it(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "batch: b\njobs: [{id: a, kind: music, prompt: x, music_length_ms: 3000}]\n"
    )
    added = audiobatch(
        "schedule", "add", "nightly", "--cron", "@daily", "--manifest", "good.yaml",
        cwd=tmp_path, env=clean_environment(),
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    assert added.stdout.startswith("schedule nightly: @daily (UTC); first run ")
    assert added.stderr == (
        "warning: no live scheduler, so no schedule fires: start one with `audiobatch scheduler`"
        " (and a worker: `audiobatch worker`)\n"
    )
