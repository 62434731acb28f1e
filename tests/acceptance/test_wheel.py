"""An installed audiobatch works away from its source tree: the sdist and the wheel that
``python -m build`` makes carry the migrations, and the wheel installed into a fresh virtualenv
migrates a database and renders the demo with nothing else from the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.acceptance.cli import clean_environment

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted(p.name for p in (REPO / "migrations" / "versions").glob("*.py"))


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel; its dependencies are read from this interpreter's
    site-packages (a path, so the editable install there is not seen)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    wheel = next(dist.glob("audiobatch-*.whl"))
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    fresh_site = Path(
        sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    )
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_sdist_and_the_wheel_carry_every_migration(dist: Path) -> None:
    with tarfile.open(next(dist.glob("audiobatch-*.tar.gz"))) as sdist:
        in_sdist = {Path(name).name for name in sdist.getnames() if "/migrations/versions/" in name}
    with zipfile.ZipFile(next(dist.glob("audiobatch-*.whl"))) as wheel:
        names = wheel.namelist()
    in_wheel = {
        Path(name).name for name in names if name.startswith("audiobatch/migrations/versions/")
    }
    assert set(MIGRATIONS) <= in_sdist
    assert set(MIGRATIONS) <= in_wheel
    assert "audiobatch/migrations/env.py" in names
    assert "audiobatch/dashboard/templates/base.html" in names


def test_an_installed_wheel_migrates_and_renders_the_demo(installed: Path, tmp_path: Path) -> None:
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
    env = clean_environment(AUDIOBATCH_HOME=str(tmp_path / "home"))
    env.pop("PYTHONPATH", None)  # nothing from the source tree
    program = str(installed / "bin" / "audiobatch")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [program, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    where = subprocess.run(
        [installed / "bin" / "python", "-c", "import audiobatch; print(audiobatch.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(installed)

    upgraded = run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    rendered = run("run", "demo.yaml")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    status = json.loads(run("status", "demo", "--json").stdout)
    assert status["status"] == "succeeded"
