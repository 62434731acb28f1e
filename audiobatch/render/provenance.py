"""Which backend rendered a job's outputs, noted on its batch when the job succeeds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from audiobatch.backend import Backend
from audiobatch.db.backends import backend_of_job, note_batch_backend
from audiobatch.render.context import CallInfo


def note_rendered_by(
    session: Session,
    batch_id: str,
    backend: Backend,
    call: CallInfo | None,
    cached_from: int | None,
) -> None:
    """Note on the batch what made a succeeding job's outputs: the backend that answered its
    ``call``, or for outputs reused from job ``cached_from`` whatever rendered that job's batch.
    An episode, stitched from its parts without a call, adds nothing: its parts have noted theirs.
    """
    if call is not None:
        label: str | None = backend.label(call.emulator)
    elif cached_from is not None:
        label = backend_of_job(session, cached_from)
    else:
        return
    if label is not None:
        note_batch_backend(session, batch_id, label)
