"""Batch tags in SQL: one ``batch_tags`` row per (batch, tag), read for many batches at once,
and the condition that keeps the batches carrying a tag (answered from the index on ``tag``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.orm import Session

from audiobatch.db.models import Batch, BatchTag
from audiobatch.db.session import rows_affected
from audiobatch.manifest.tags import merged_tags


def tags_of(session: Session, batch_ids: Sequence[str]) -> dict[str, list[str]]:
    """Every batch's tags, sorted, in one statement (an empty list for a batch without any)."""
    tags: dict[str, list[str]] = {batch_id: [] for batch_id in batch_ids}
    rows = session.execute(
        select(BatchTag.batch_id, BatchTag.tag)
        .where(BatchTag.batch_id.in_(batch_ids))
        .order_by(BatchTag.tag)
    )
    for batch_id, tag in rows:
        tags[batch_id].append(tag)
    return tags


def add_tags(session: Session, batch_id: str, tags: Iterable[str]) -> list[str]:
    """Put ``tags`` on the batch (those it carries already stay once); its tags after.
    :class:`~audiobatch.errors.TagError` for a tag that is no tag, or one too many. The batch's
    row is locked first, so that two additions at once cannot pass the limit together."""
    session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
    existing = tags_of(session, [batch_id])[batch_id]
    merged = merged_tags(existing, tags)
    new = [{"batch_id": batch_id, "tag": tag} for tag in merged if tag not in existing]
    if new:
        session.execute(insert(BatchTag), new)
    return sorted(merged)


def remove_tag(session: Session, batch_id: str, tag: str) -> bool:
    """Take ``tag`` off the batch; False when it did not carry it."""
    removed = session.execute(
        delete(BatchTag).where(BatchTag.batch_id == batch_id, BatchTag.tag == tag)
    )
    return rows_affected(removed) == 1


def tagged(tag: str) -> ColumnElement[bool]:
    """The condition on ``batches`` that keeps those carrying ``tag``."""
    return Batch.id.in_(select(BatchTag.batch_id).where(BatchTag.tag == tag))
