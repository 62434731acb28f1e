"""Acting on a job's stored objects only while its lease is still this worker's, with the job's
row held so that no other worker can take the job over meanwhile (see
:mod:`audiobatch.render.context` for the scheme this belongs to)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from audiobatch.db.models import Job, JobStatus
from audiobatch.db.session import patiently, rows_affected

# A no-op UPDATE: it matches only while ``worker`` holds the lease, and it locks the row (the
# database's write lock on SQLite) until the transaction ends, which every statement that
# takes a job from its worker (lease expiry, release, finish, claim) has to wait for: the
# reconciler's pass over expired leases too, for as long as the action takes (one object
# removed, bounded by the store client's timeouts).
_HOLD = (
    update(Job)
    .where(
        Job.id == bindparam("job"),
        Job.status == JobStatus.RUNNING,
        Job.lease_owner == bindparam("worker"),
    )
    .values(lease_owner=Job.lease_owner)
)


def while_leased(database_url: str, job_id: int, worker: str, action: Callable[[], None]) -> bool:
    """Run ``action`` while job ``job_id`` is ``worker``'s and held so; False, without running
    it, when the job is no longer ``worker``'s."""

    def hold(session: Session) -> bool:
        if not rows_affected(session.execute(_HOLD, {"job": job_id, "worker": worker})):
            return False
        action()
        return True

    return patiently(database_url, hold)
