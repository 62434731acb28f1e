"""Pruning old batches: the rows of batches that ended before a cutoff, then their stored objects
(outputs and ``results.json``, under ``<batch>/<batch id>/``) and their dashboard upload folders.

The plan is made first and is what a dry run shows; a real run deletes the rows of the planned
batches still expired (one transaction, see :mod:`audiobatch.db.retention`), recording their
objects and folders as pending deletions, then removes those. An object that some remaining
batch's output row points at is never planned. A removal that fails stays pending and is reported;
the next prune tries it again first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from audiobatch.db.retention import (
    FOLDER,
    OBJECT,
    ExpiredBatch,
    Pending,
    delete_batches,
    expired_batches,
    forget_pending,
    keys_kept,
    pending,
    record_pending,
)
from audiobatch.db.session import session_scope
from audiobatch.errors import StorageError
from audiobatch.storage import Storage


@dataclass(frozen=True)
class PrunePlan:
    """What a prune at ``cutoff`` removes."""

    cutoff: datetime
    batches: list[ExpiredBatch]
    objects: dict[str, list[str]]  # storage keys by batch id
    folders: dict[str, list[str]]  # upload folders by batch id
    earlier: list[Pending]  # objects and folders an earlier prune could not remove


@dataclass
class PruneReport:
    """What a prune removed, and the removals that failed (still pending)."""

    pruned: list[str] = field(default_factory=list)  # batch ids whose rows went
    removed: int = 0  # objects and folders removed
    failed: list[tuple[str, str]] = field(default_factory=list)  # (target, why)


def plan_prune(
    database_url: str, storage: Storage, uploads_root: Path, cutoff: datetime
) -> PrunePlan:
    """The batches that ended before ``cutoff`` and the objects and upload folders that go with
    them (none that a remaining batch's output row points at)."""
    with session_scope(database_url) as session:
        batches = expired_batches(session, cutoff)
        earlier = pending(session)
    listed = {batch.id: list(storage.keys(f"{batch.name}/{batch.id}")) for batch in batches}
    with session_scope(database_url) as session:
        kept = keys_kept(
            session, [key for keys in listed.values() for key in keys], {b.id for b in batches}
        )
    uploads = uploads_root.resolve()
    return PrunePlan(
        cutoff=cutoff,
        batches=batches,
        objects={
            batch_id: [key for key in keys if key not in kept] for batch_id, keys in listed.items()
        },
        folders={
            batch.id: [
                root
                for root in batch.source_roots
                if Path(root).parent == uploads and Path(root).is_dir()
            ]
            for batch in batches
        },
        earlier=earlier,
    )


def prune(database_url: str, storage: Storage, plan: PrunePlan) -> PruneReport:
    """Carry out ``plan``: the rows of its batches still expired, then every pending removal."""
    with session_scope(database_url) as session:
        gone = delete_batches(session, [batch.id for batch in plan.batches], plan.cutoff)
        for batch_id in gone:
            record_pending(session, batch_id, OBJECT, plan.objects[batch_id])
            record_pending(session, batch_id, FOLDER, plan.folders[batch_id])
    report = finish_pending(database_url, storage)
    report.pruned = gone
    return report


def finish_pending(database_url: str, storage: Storage) -> PruneReport:
    """Remove every object and folder of pruned batches still pending; each failure is reported
    and stays pending."""
    with session_scope(database_url) as session:
        todo = pending(session)
    report, done = PruneReport(), []
    for item in todo:
        try:
            _remove(storage, item)
        except (StorageError, OSError) as exc:
            report.failed.append((item.target, str(exc)))
            continue
        done.append(item.id)
    with session_scope(database_url) as session:
        forget_pending(session, done)
    report.removed = len(done)
    return report


def _remove(storage: Storage, item: Pending) -> None:
    if item.kind == OBJECT:
        storage.delete(item.target)
        return
    folder = Path(item.target)
    while folder.exists():
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:  # a part of it went meanwhile: another prune removes it too
            continue
