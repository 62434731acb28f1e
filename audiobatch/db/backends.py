"""The backend that rendered a batch: ``batches.backend`` (see :mod:`audiobatch.backend`)."""

from __future__ import annotations

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from audiobatch.backend import MIXED
from audiobatch.db.models import Batch, Job


def note_batch_backend(session: Session, batch_id: str, label: str) -> None:
    """Record that ``label`` rendered outputs of the batch: it becomes the batch's backend while
    none is recorded, and ``"mixed"`` once another one is.

    One conditional UPDATE, which changes nothing (and writes nothing) when the batch already
    names ``label`` or is mixed: every success but a batch's first costs one indexed read.
    """
    session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            or_(Batch.backend.is_(None), and_(Batch.backend != label, Batch.backend != MIXED)),
        )
        .values(backend=case((Batch.backend.is_(None), label), else_=MIXED))
        .execution_options(synchronize_session=False)
    )


def backend_of_job(session: Session, job_id: int) -> str | None:
    """The backend recorded for the batch of job ``job_id`` (None when none is)."""
    return session.scalar(
        select(Batch.backend).join(Job, Job.batch_id == Batch.id).where(Job.id == job_id)
    )
