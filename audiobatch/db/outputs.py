"""What the database says a batch stored: every output row, for checking against the store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audiobatch.db.models import Artifact
from audiobatch.storage.audit import Recorded


def recorded_outputs(session: Session, batch_id: str) -> list[Recorded]:
    """Every artifact row of the batch's jobs, in key order."""
    rows = session.execute(
        select(Artifact.key, Artifact.bytes, Artifact.sha256)
        .where(Artifact.batch_id == batch_id)
        .order_by(Artifact.key)
    )
    return [Recorded(key, size, sha256) for key, size, sha256 in rows]
