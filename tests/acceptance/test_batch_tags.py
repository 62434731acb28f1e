"""Tags from the command line: `submit --tag` adds to a manifest's own, `status --tag` lists the
batches carrying one, `status --json` shows them; a bad tag is invalid input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.cli import audiobatch, clean_environment
from tests.dashboard_seed import HOST


def write_manifest(folder: Path, batch: str, tags: str = "") -> Path:
    path = folder / f"{batch}.yaml"
    path.write_text(
        f"batch: {batch}\n{tags}jobs:\n  - id: one\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: One.}}]\n"
    )
    return path


def test_submitted_tags_are_shown_and_filter_the_batch_list(tmp_path: Path) -> None:
    env = clean_environment()
    season = write_manifest(tmp_path, "season", "tags: [season-2]\n")
    plain = write_manifest(tmp_path, "plain")
    submitted = audiobatch(
        "submit", str(season), "--tag", "urgent", "--tag", "draft", "--json",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    [batch] = json.loads(submitted.stdout)
    assert audiobatch("submit", str(plain), cwd=tmp_path, env=env).returncode == 0

    tagged = audiobatch("status", "--tag", "urgent", "--json", cwd=tmp_path, env=env)
    assert tagged.returncode == 0, tagged.stderr
    assert [(b["id"], b["tags"]) for b in json.loads(tagged.stdout)] == [
        (batch["id"], ["draft", "season-2", "urgent"])
    ]
    every = json.loads(audiobatch("status", "--json", cwd=tmp_path, env=env).stdout)
    assert {b["name"]: b["tags"] for b in every} == {
        "season": ["draft", "season-2", "urgent"],
        "plain": [],
    }
    one = json.loads(audiobatch("status", batch["id"], "--json", cwd=tmp_path, env=env).stdout)
    assert one["tags"] == ["draft", "season-2", "urgent"]
    shown = audiobatch("status", batch["id"], cwd=tmp_path, env=env).stdout
    assert "tags: draft, season-2, urgent" in shown

    bad = audiobatch("submit", str(plain), "--tag", "Not Ok", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "tag 'Not Ok' must match" in bad.stderr
    both = audiobatch("status", batch["id"], "--tag", "urgent", cwd=tmp_path, env=env)
    assert both.returncode == 2 and "--tag" in both.stderr
