"""Submitting manifests: write the batches in one transaction, then announce their jobs."""

from __future__ import annotations

from collections.abc import Sequence

from audiobatch.db.clock import database_clock
from audiobatch.db.idempotency import Idempotency, earlier_batch, record_key
from audiobatch.db.reconcile import Publish, publish_queued
from audiobatch.db.session import session_scope
from audiobatch.db.submit import (
    Spending,
    SubmittedBatch,
    active_batch_of,
    insert_batch,
    lock_manifests,
    submitted_earlier,
)
from audiobatch.db.tags import add_tags
from audiobatch.manifest import Manifest


def submit_manifests(
    database_url: str,
    manifests: Sequence[Manifest],
    publish: Publish,
    *,
    fresh: bool = False,
    force: bool = False,
    spending: Spending = Spending(),
    idempotency: Idempotency | None = None,
) -> list[SubmittedBatch]:
    """Write one batch per manifest, all in one transaction, and publish wake-ups after commit.

    The manifests are already validated (:func:`~audiobatch.manifest.load_manifests`). A manifest
    whose batch is still active is not written again: that batch is returned (marked
    ``existing``, and given the manifest's tags it lacks), unless ``force``. A crash between the
    commit and the publish loses nothing: the reconciler tick announces every queued job that
    was never announced. ``fresh`` batches generate anew what was generated before; every new
    batch may spend as ``spending`` says. With ``idempotency`` (one manifest), a key already
    recorded returns the batch it made (``existing``), and a new one is recorded with the batch.
    """
    if idempotency is not None and len(manifests) != 1:
        raise ValueError("an idempotency key stands for the submission of one manifest")
    now = database_clock(database_url)()
    with session_scope(database_url) as session:
        if idempotency is not None and (made := earlier_batch(session, idempotency)):
            return [submitted_earlier(session, made)]
        if not force:
            lock_manifests(session, manifests)
        batches = []
        for manifest in manifests:
            existing = None if force else active_batch_of(session, manifest)
            if existing is not None:
                add_tags(session, existing.id, manifest.tags)
            batches.append(
                existing or insert_batch(session, manifest, now, fresh=fresh, spending=spending)
            )
        if idempotency is not None:
            record_key(session, idempotency, batches[0].id, now)
    publish_queued(database_url, publish, now)
    return batches
