"""Where a manifest's sources may come from: local folders (the source roots) and S3 buckets or
prefixes.

A local path is judged by where it leads once ``..`` and every symbolic link are resolved, before
anything else is looked at: a path outside the roots gets the same answer whether or not it
exists, so a refusal tells nothing about the files outside. Validation checks each source
against a :class:`SourcePolicy`; the worker checks again, with the roots recorded with the batch,
just before it reads (a link may have changed since).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NO_LOCAL_SOURCES = (
    "local source files are not accepted here: name an s3:// object or {from: job-id}, or "
    "upload a bundle (a ZIP of the manifest and its audio files)"
)


@dataclass(frozen=True)
class SourcePolicy:
    """The folders local sources may come from and the S3 buckets (``bucket`` or
    ``bucket/prefix``) S3 sources may name.

    ``roots`` None means the manifest's own folder; ``buckets`` None means any bucket.
    """

    roots: tuple[Path, ...] | None = None
    buckets: tuple[str, ...] | None = None

    def roots_for(self, base_dir: Path) -> tuple[Path, ...]:
        """The roots of a manifest read from ``base_dir``, each absolute with links resolved."""
        roots = (base_dir,) if self.roots is None else self.roots
        return tuple(Path(os.path.realpath(root)) for root in roots)

    def without_folder_default(self) -> SourcePolicy:
        """This policy for a manifest that has no folder of its own (uploaded, read from S3):
        no local roots unless some are configured."""
        return SourcePolicy(self.roots or (), self.buckets)


def local_problem(path: Path, roots: Sequence[Path]) -> str | None:
    """Why the absolute ``path`` may not be read under ``roots`` (resolved), or None."""
    return None if resolved_within(path, roots) is not None else refusal(path, roots)


def resolved_within(path: Path, roots: Sequence[Path]) -> Path | None:
    """``path`` with ``..`` and links resolved, if that is inside one of ``roots``; else None."""
    real = Path(os.path.realpath(path))
    return real if any(real.is_relative_to(root) for root in roots) else None


def refusal(path: Path, roots: Sequence[Path]) -> str:
    """The answer to a local source outside ``roots``: the same whether it exists or not."""
    if not roots:
        return NO_LOCAL_SOURCES
    listed = ", ".join(str(root) for root in roots)
    return (
        f"source path {path} is outside the folders sources may come from ({listed}): "
        "move the file there, or set AUDIOBATCH_SOURCE_ROOTS"
    )


def manifest_outside(path: Path, roots: Sequence[Path]) -> str:
    """The answer to a schedule's manifest file outside ``roots``, added from somewhere (the
    dashboard) that may read local files only there: the same whether it exists or not."""
    where = ", ".join(str(root) for root in roots) or "none: AUDIOBATCH_SOURCE_ROOTS is not set"
    return (
        f"manifest file {str(path)!r} is outside the folders this dashboard may read ({where}): "
        "name an s3://bucket/key URI, or add the schedule with `audiobatch schedule add`"
    )


def s3_problem(bucket: str, key: str, buckets: Sequence[str] | None) -> str | None:
    """Why ``s3://bucket/key`` may not be read under ``buckets``, or None. A key with ``.`` or
    ``..`` segments is refused: some stores and clients resolve them."""
    if buckets is None:
        return None
    segments = key.split("/")
    if not {".", ".."} & set(segments) and any(
        _under(bucket, segments, allowed) for allowed in buckets
    ):
        return None
    listed = ", ".join(f"s3://{allowed}" for allowed in buckets) or "none"
    return (
        f"S3 source s3://{bucket}/{key} is outside the buckets sources may come from "
        f"({listed}): copy it there, or set AUDIOBATCH_SOURCE_BUCKETS"
    )


def _under(bucket: str, segments: list[str], allowed: str) -> bool:
    name, _, prefix = allowed.partition("/")
    folders = prefix.strip("/").split("/") if prefix.strip("/") else []
    return name == bucket and segments[: len(folders)] == folders and len(segments) > len(folders)
