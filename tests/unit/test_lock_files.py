"""The locks pin every package the project asks for, with hashes, and everything installs from them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", re.M
)


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """Each package pinned in ``lock``: its version and how many hashes it carries."""
    text = (ROOT / lock).read_text()
    found = {canonicalize_name(m[1]): (m[2], m[3].count("--hash=")) for m in PIN.finditer(text)}
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert len(found) == len(requirement_lines), f"{lock} has lines that are not name==version"
    return found


def requirements(extra: str | None = None) -> list[Requirement]:
    """The project's requirements; with ``extra`` "build", those of its build system."""
    if extra == "build":
        names = PYPROJECT["build-system"]["requires"]
    else:
        names = PROJECT["optional-dependencies"][extra] if extra else PROJECT["dependencies"]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("requirements.lock", (None, "dev")),
        ("requirements-runtime.lock", (None,)),
        ("requirements-build.lock", ("build",)),
    ],
)
def test_a_lock_pins_every_requirement_within_its_bounds_with_hashes(
    lock: str, extras: tuple[str | None, ...]
) -> None:
    pinned = pins(lock)
    for extra in extras:
        for requirement in requirements(extra):
            version, _ = pinned[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(version), f"{lock}: {requirement} vs {version}"
    assert all(hashes > 0 for _, hashes in pinned.values()), f"{lock}: a pin without a hash"


def test_the_runtime_lock_is_the_full_lock_less_the_dev_extra() -> None:
    full, runtime = pins("requirements.lock"), pins("requirements-runtime.lock")
    assert {name: full[name] for name in runtime} == runtime
    dev_only = {canonicalize_name(r.name) for r in requirements("dev")} - {
        canonicalize_name(r.name) for r in requirements()
    }
    assert not dev_only & set(runtime)


@pytest.mark.parametrize(
    ("package", "last_unfit"),
    [
        ("python-multipart", "0.0.17"),  # CVE-2024-53981; imported as multipart
        ("starlette", "0.49.0"),  # CVE-2025-62727
        ("jinja2", "3.1.5"),  # CVE-2025-27516
        ("click", "8.1.8"),  # a bare group printed its help and exited 0
        ("typer", "0.15.4"),  # refuses click 8.2
    ],
)
def test_lower_bounds_leave_out_releases_without_the_fixes_relied_on(
    package: str, last_unfit: str
) -> None:
    bounds = {canonicalize_name(r.name): r.specifier for r in requirements()}
    assert not bounds[package].contains(last_unfit)


def test_make_and_the_image_install_only_from_a_lock_checking_hashes() -> None:
    makefile, dockerfile = (ROOT / "Makefile").read_text(), (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install (.*)", makefile) + re.findall(
        r"pip install (.*)", dockerfile
    )
    for options in installs:
        if "$(UV)" in options:  # the locking tool itself, in a throw-away virtualenv
            continue
        assert "--require-hashes -r" in options or "--no-deps" in options, options
    for lock in ("requirements-build.lock", "requirements-runtime.lock"):
        assert re.search(rf"--require-hashes -r \S*{lock}", dockerfile), lock
    assert "--require-hashes -r $(LOCK)" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
