"""`audiobatch verify` after a rendered batch: clean, then each kind of damage to its folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.cli import audiobatch, clean_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the demo manifest has been rendered (embedded: SQLite, local storage)."""
    folder = tmp_path_factory.mktemp("rendered")
    shutil.copy(REPO / "manifests" / "demo.yaml", folder / "demo.yaml")
    result = audiobatch("run", "demo.yaml", cwd=folder, env=clean_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


@pytest.fixture
def workdir(rendered: Path, tmp_path: Path) -> Path:
    """A copy of the rendered folder, this test's to damage."""
    return Path(shutil.copytree(rendered, tmp_path / "work"))


def verify(workdir: Path) -> tuple[int, dict[str, Any]]:
    result = audiobatch("verify", "demo", "--json", cwd=workdir, env=clean_environment())
    return result.returncode, json.loads(result.stdout)


def outputs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "renders").rglob("audio.*"))


def test_a_rendered_batch_verifies_clean(workdir: Path) -> None:
    code, report = verify(workdir)
    assert code == 0 and report["clean"]
    stored = [p for p in (workdir / "renders").rglob("*") if p.is_file()]
    assert report["checked"] == len(stored) - 1 > 0  # all but results.json
    text = audiobatch("verify", "demo", cwd=workdir, env=clean_environment())
    assert text.returncode == 0 and "clean" in text.stdout


def test_a_missing_output_fails_verification(workdir: Path) -> None:
    gone = outputs(workdir)[0]
    gone.unlink()
    code, report = verify(workdir)
    assert code == 1 and not report["clean"]
    assert [key.rsplit("/", 2)[-2:] for key in report["missing"]] == [[gone.parent.name, gone.name]]


def test_a_changed_output_fails_verification(workdir: Path) -> None:
    changed = outputs(workdir)[1]
    changed.write_bytes(changed.read_bytes()[:-1] + b"\0")
    code, report = verify(workdir)
    [entry] = report["changed"]
    assert code == 1 and entry["key"].endswith(f"{changed.parent.name}/{changed.name}")
    assert entry["bytes"] == entry["recorded_bytes"] and entry["sha256"] != entry["recorded_sha256"]


def test_a_stray_object_fails_verification(workdir: Path) -> None:
    stray = outputs(workdir)[0].parent / "extra.mp3"
    stray.write_bytes(b"not recorded")
    code, report = verify(workdir)
    assert code == 1 and [key.rsplit("/", 1)[-1] for key in report["stray"]] == ["extra.mp3"]
    assert not report["missing"] and not report["changed"]
