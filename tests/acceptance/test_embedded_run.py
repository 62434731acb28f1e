"""`audiobatch run` on a fresh folder with nothing configured: SQLite, filesystem broker, emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import pytest

from tests.acceptance.cli import audiobatch, clean_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
    return tmp_path


def test_the_demo_renders_playable_audio_with_nothing_configured(workdir: Path) -> None:
    result = audiobatch("run", "demo.yaml", cwd=workdir, env=clean_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "built-in emulator" in result.stdout
    assert "Started a local worker" in result.stdout

    status = audiobatch("status", "demo", "--json", cwd=workdir, env=clean_environment())
    report = json.loads(status.stdout)
    assert report["status"] == "succeeded"
    assert report["counts"]["succeeded"] == len(report["jobs"]) > 0
    for job in report["jobs"]:
        assert job["status"] == "succeeded"
        assert job["attempts"] >= 1
        for output in job["outputs"]:
            path = Path(output["uri"].removeprefix("file://"))
            assert path.is_file()
            assert path.stat().st_size == output["bytes"]
            assert output["uri"] in result.stdout  # run prints where every output is
            if path.suffix in (".mp3", ".opus"):
                with av.open(str(path)) as container:
                    assert container.duration and container.duration > 0
    results = workdir / "renders" / "demo" / report["id"] / "results.json"
    assert json.loads(results.read_text())["status"] == "succeeded"


def test_the_demo_run_again_reuses_every_output_and_fresh_renders_anew(workdir: Path) -> None:
    def run(*flags: str) -> dict[str, dict[str, Any]]:
        result = audiobatch(
            "run", "demo.yaml", "--json", *flags, cwd=workdir, env=clean_environment()
        )
        assert result.returncode == 0, result.stdout + result.stderr
        [report] = json.loads(result.stdout)
        return {job["id"]: job for job in report["jobs"]}

    first, again, fresh = run(), run(), run("--fresh")
    assert all(not job["cached"] and job["attempts"] == 1 for job in first.values())
    assert all(job["cached"] and job["attempts"] == 0 for job in again.values())
    assert all(not job["cached"] and job["attempts"] == 1 for job in fresh.values())
    for key, job in again.items():
        assert [o["sha256"] for o in job["outputs"]] == [o["sha256"] for o in first[key]["outputs"]]


def test_an_invalid_manifest_exits_2_with_located_errors_and_writes_nothing(workdir: Path) -> None:
    bad = workdir / "bad.yaml"
    bad.write_text(
        "batch: bad\njobs:\n  - id: a\n    kind: dialog\n  - id: b\n    kind: dialogue\n"
        "    inputs: [{voice: nobody, text: hi}]\n"
    )
    result = audiobatch("run", "bad.yaml", cwd=workdir, env=clean_environment())
    assert result.returncode == 2
    assert "bad.yaml:4" in result.stderr
    assert "bad.yaml:7" in result.stderr
    assert not (workdir / "renders").exists()
    status = audiobatch("status", "--json", cwd=workdir, env=clean_environment())
    assert json.loads(status.stdout) == []


def test_a_storage_url_the_worker_cannot_use_exits_2_before_anything_starts(workdir: Path) -> None:
    env = clean_environment(AUDIOBATCH_STORAGE_URL="ftp://host/renders")
    result = audiobatch("run", "demo.yaml", cwd=workdir, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: unsupported storage URL 'ftp://host/renders': use file://PATH or "
        "s3://bucket/prefix\n"
    )
    assert not (workdir / ".audiobatch" / "worker.log").exists()
