"""Submitting manifests: validate everything, write the batches in one transaction, then announce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audiobatch.db.dispatch import Publish, publish_queued
from audiobatch.db.models import utcnow
from audiobatch.db.session import session_scope
from audiobatch.db.submit import SubmittedBatch, insert_batch
from audiobatch.manifest import load_manifests


def submit_manifests(
    database_url: str,
    paths: Sequence[Path],
    publish: Publish,
    *,
    republish_after_s: float,
    voices: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[SubmittedBatch]:
    """Write one batch per manifest, all in one transaction, and publish wake-ups after commit.

    An invalid manifest raises :class:`~audiobatch.errors.ManifestError` before anything is
    written. A crash between the commit and the publish loses nothing: the dispatcher tick
    announces every queued job that was never announced.
    """
    manifests = load_manifests(paths, voices=voices, defaults=defaults)
    now = utcnow()
    with session_scope(database_url) as session:
        batches = [insert_batch(session, manifest, now) for manifest in manifests]
    publish_queued(database_url, publish, now, republish_after_s)
    return batches
