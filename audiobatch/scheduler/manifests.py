"""Where a schedule's manifest comes from: a file, an ``s3://`` URI, or its text stored with the
schedule. It is read anew at every firing, so the file or object may change between nights."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from audiobatch.db.models import Schedule
from audiobatch.errors import ScheduleError
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.manifest.confinement import (
    SourcePolicy,
    manifest_outside,
    resolved_within,
    s3_problem,
)
from audiobatch.manifest.loaders import load_manifest_bytes
from audiobatch.scheduler.cron import parse_zone
from audiobatch.storage import open_storage


@dataclass(frozen=True)
class ManifestSource:
    """A manifest location as a schedule keeps it: an absolute path or an ``s3://`` URI, and
    the text when it is stored with the schedule."""

    location: str
    text: str | None = None


def manifest_source(
    given: str,
    *,
    store: bool,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
    confined_to: Sequence[Path] | None = None,
    accounts: Collection[str] | None = None,
) -> ManifestSource:
    """Check where ``schedule add`` was told the manifest is. A local file must exist and is
    validated now (with ``store``, its text is kept); an S3 object is read only when the
    schedule fires. Episodes are cut into parts of ``part_chars``; sources must
    come from where ``sources`` allows, its account be one of ``accounts``. With ``confined_to`` (resolved folders; a schedule
    added from the dashboard), a local manifest must lie in one of them, and one outside gets
    the same answer whether it exists or not; an S3 one, in the buckets ``sources`` allows."""
    if given.startswith("s3://"):
        bucket, _, key = given.removeprefix("s3://").partition("/")
        if not bucket or not key or key.endswith("/"):
            raise ScheduleError(f"manifest URI {given!r} must name an object: s3://bucket/key.yaml")
        if store:
            raise ScheduleError(
                "--store keeps a local file's text; an s3:// manifest is read at firing"
            )
        if confined_to is not None and (problem := s3_problem(bucket, key, sources.buckets)):
            raise ScheduleError(problem)
        return ManifestSource(given)
    if "://" in given:
        raise ScheduleError(f"manifest {given!r}: give a file path or an s3://bucket/key URI")
    path = Path(given).absolute()
    if confined_to is not None:
        within = resolved_within(path, confined_to)
        if within is None:
            raise ScheduleError(manifest_outside(path, confined_to))
        path = within  # the file checked, not a link that may later point elsewhere
    if not path.is_file():
        raise ScheduleError(
            f"manifest {given!r}: no such file ({path}); give an existing manifest file, "
            "or an s3://bucket/key URI"
        )
    load_manifests([path], part_chars=part_chars, sources=sources, accounts=accounts)
    if store:
        return ManifestSource(str(path), path.read_text(encoding="utf-8-sig"))
    return ManifestSource(str(path))


def scheduled_manifest(
    schedule: Schedule,
    slot_at: datetime,
    *,
    part_chars: int,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> Manifest:
    """The schedule's manifest as it reads now, its batch named after the slot's local date
    (``news-2026-03-29``), its episodes cut into parts of ``part_chars``, its sources from where
    ``sources`` allows (local files from the manifest's folder by default, or from none for a
    manifest in S3), its account one of ``accounts`` (None: any well-formed name).

    Raises :class:`~audiobatch.errors.ManifestError` for an invalid manifest,
    :class:`~audiobatch.errors.NotFoundError` or a storage error for a missing or unreadable one.
    """
    manifest = _load(schedule, part_chars, sources, accounts)
    day = slot_at.astimezone(parse_zone(schedule.timezone)).date().isoformat()
    return Manifest.build(
        f"{manifest.batch}-{day}",
        manifest.jobs,
        manifest.source,
        manifest.source_roots,
        manifest.settings,
    )


def _load(
    schedule: Schedule,
    part_chars: int,
    sources: SourcePolicy,
    accounts: Collection[str] | None,
) -> Manifest:
    location = schedule.manifest
    if schedule.manifest_text is not None:
        raw, base_dir = schedule.manifest_text.encode(), Path(location).parent
        return load_manifest_bytes(
            raw,
            file=location,
            base_dir=base_dir,
            part_chars=part_chars,
            sources=sources,
            accounts=accounts,
        )
    if location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        raw = b"".join(open_storage(f"s3://{bucket}").read(key))
        return load_manifest_bytes(
            raw,
            file=location,
            base_dir=Path.cwd(),
            part_chars=part_chars,
            sources=sources.without_folder_default(),
            accounts=accounts,
        )
    [manifest] = load_manifests(
        [Path(location)], part_chars=part_chars, sources=sources, accounts=accounts
    )
    return manifest
