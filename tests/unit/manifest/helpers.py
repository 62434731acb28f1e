"""Helpers for the manifest tests: write files, load them, collect the problems."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from audiobatch.errors import ManifestError, Problem
from audiobatch.manifest import Manifest, load_manifests

HOST = "JBFqnCBsd6RMkjVDRZzb"
GUEST = "Aw4FAjKCGjjNkVhN1Xmq"


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented, without its first newline) to ``folder/name``."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_one(path: Path, **options: Any) -> Manifest:
    [manifest] = load_manifests([path], **options)
    return manifest


def problems(paths: Sequence[Path], **options: Any) -> list[Problem]:
    """The problems ``load_manifests`` raises for ``paths``; fails the test if it raises none."""
    with pytest.raises(ManifestError) as raised:
        load_manifests(paths, **options)
    return raised.value.problems


def located(paths: Sequence[Path], **options: Any) -> list[tuple[int | None, str]]:
    """(line, field) of every problem, in the order reported."""
    return [(p.line, p.field) for p in problems(paths, **options)]
