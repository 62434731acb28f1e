"""Manifests uploaded to the dashboard: a plain manifest, or a bundle.

A plain manifest has no folder of its own: its sources are S3 objects in the allowed buckets
and ``{from: job}`` references, and local files only inside folders ``AUDIOBATCH_SOURCE_ROOTS``
names. A bundle (``.zip``: the manifest and its audio files, see
:mod:`audiobatch.manifest.bundle`) is unpacked into ``<home>/uploads/<id>/``, which becomes
that manifest's only source root; workers read the audio from there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO

from audiobatch.config import Settings
from audiobatch.errors import ManifestError, Problem
from audiobatch.manifest import Manifest
from audiobatch.manifest.bundle import remove_bundle, unpack_bundle
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.manifest.loaders import load_manifest_bytes

MAX_MANIFEST_BYTES = 64 << 20
BUNDLE_SUFFIX = ".zip"


@dataclass(frozen=True)
class Uploaded:
    """A validated upload, and the folder its bundle was unpacked into (None for a manifest)."""

    manifest: Manifest
    folder: Path | None = None

    def discard(self) -> None:
        """Remove the bundle's folder: no batch reads from it."""
        if self.folder is not None:
            remove_bundle(self.folder)


def read_upload(stream: IO[bytes], filename: str | None, settings: Settings) -> Uploaded:
    """Validate an uploaded manifest or bundle; :class:`ManifestError` with every problem."""
    name = PurePath(filename or "manifest.yaml").name
    if name.lower().endswith(BUNDLE_SUFFIX):
        return _bundle(stream, name, settings)
    raw = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError([Problem(name, None, "", "larger than 64 MiB")])
    manifest = load_manifest_bytes(
        raw,
        file=name,
        base_dir=Path.cwd(),
        part_chars=settings.part_chars,
        sources=settings.source_policy(uploaded=True),
        accounts=settings.account_names(),
    )
    return Uploaded(manifest)


def _bundle(stream: IO[bytes], name: str, settings: Settings) -> Uploaded:
    folder = settings.home.resolve() / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        path = unpack_bundle(stream, name, folder, settings.bundle_limits)
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError([Problem(name, None, path.name, "larger than 64 MiB")])
        manifest = load_manifest_bytes(
            path.read_bytes(),
            file=f"{name}/{path.name}",
            base_dir=folder,
            part_chars=settings.part_chars,
            sources=SourcePolicy((folder,), settings.allowed_source_buckets),
            accounts=settings.account_names(),
        )
    except BaseException:
        remove_bundle(folder)
        raise
    return Uploaded(manifest, folder)
