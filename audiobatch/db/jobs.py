"""Job state transitions. Every change is a conditional UPDATE, so concurrent workers cannot both win.

A job moves ``pending → queued → running → succeeded | retrying | failed``; ``retrying`` goes back to
``queued`` when the dispatcher finds it due. Whether a batch has ended is asked in a transaction of
its own after a job's end is committed: whichever finisher commits last then sees every job ended,
and the conditional update that ends the batch lets exactly one of them win. No finisher waits on
another, so thousands of jobs finishing a second never queue behind a batch row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, case, delete, exists, func, insert, inspect, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from audiobatch.db.columns import fit_to_columns
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    TERMINAL_JOB_STATUSES,
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
)
from audiobatch.db.session import rows_affected
from audiobatch.storage import StoredObject

DEPENDENCY_FAILED = "dependency failed"


@dataclass(frozen=True)
class Claim:
    """What a worker needs of the job it has just claimed."""

    job_id: int
    batch_id: str
    batch_name: str
    key: str
    kind: str
    spec: dict[str, object]
    attempts: int
    fresh: bool  # the batch asked for new generations: no reuse of earlier outputs
    character_budget: int | None = None  # the batch pauses once its attempts have spent it


class StoredArtifact(NamedTuple):
    name: str
    key: str  # the storage key
    bytes: int
    sha256: str
    content_type: str


@dataclass(frozen=True)
class Finish:
    """The outcome of finishing a job: whether this worker's end counted, and what became queued."""

    won: bool
    queued: list[tuple[int, str]]


# The hot path runs statements built once, on the session's Core connection: building ORM
# statements and flushing ORM objects on every call cost a worker more CPU than the API call.
_LEASED = (
    Job.id == bindparam("job"),
    Job.status == JobStatus.RUNNING,
    Job.lease_owner == bindparam("worker"),
)
_CLAIM = (
    update(Job)
    .where(Job.id == bindparam("job"), Job.status == JobStatus.QUEUED)
    .values(
        status=JobStatus.RUNNING,
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("expires"),
        started_at=func.coalesce(Job.started_at, bindparam("now")),
    )
    .returning(Job.batch_id, Job.key, Job.kind, Job.spec, Job.attempts)
)
_BATCH_OF = select(Batch.name, Batch.status, Batch.fresh, Batch.character_budget).where(
    Batch.id == bindparam("batch")
)
_START_BATCH = (
    update(Batch)
    .where(Batch.id == bindparam("batch"), Batch.status == BatchStatus.QUEUED)
    .values(status=BatchStatus.RUNNING)
)
_EXTEND_LEASES = (
    update(Job)
    .where(
        Job.id.in_(bindparam("jobs", expanding=True)),
        Job.status == JobStatus.RUNNING,
        Job.lease_owner == bindparam("worker"),
    )
    .values(lease_expires_at=bindparam("expires"))
    .returning(Job.id)
)
_COUNT_ATTEMPT = update(Job).where(Job.id == bindparam("job")).values(attempts=Job.attempts + 1)
_FINISH = (
    update(Job)
    .where(*_LEASED)
    .values(
        status=bindparam("new_status", type_=Job.__table__.c.status.type),
        error=bindparam("message"),
        error_code=bindparam("code"),
        finished_at=bindparam("now"),
        request_sha256=bindparam("request"),
        cached_from=bindparam("cached_from"),
        lease_owner=None,
        lease_expires_at=None,
        next_attempt_at=None,
    )
)
_DROP_ARTIFACTS = delete(Artifact).where(Artifact.job_id == bindparam("job"))
_other, _parent = aliased(JobDependency), aliased(Job)
_PARENTS_ALL_SUCCEEDED = ~exists().where(
    _other.job_id == Job.id,
    _parent.id == _other.parent_id,
    _parent.status != JobStatus.SUCCEEDED,
)
_PENDING_DEPENDANTS = (
    select(Job.id)
    .join(JobDependency, JobDependency.job_id == Job.id)
    .where(JobDependency.parent_id == bindparam("job"), Job.status == JobStatus.PENDING)
)
_LOCK_JOBS = (
    select(Job.id)
    .where(Job.id.in_(bindparam("jobs", expanding=True)))
    .order_by(Job.id)
    .with_for_update()
)
_READY_AMONG = select(Job.id, Job.queue).where(
    Job.id.in_(bindparam("jobs", expanding=True)),
    Job.status == JobStatus.PENDING,
    _PARENTS_ALL_SUCCEEDED,
)
QUEUED_UNLESS_BATCH_PAUSED = case(
    (
        select(Batch.status).where(Batch.id == Job.batch_id).scalar_subquery()
        == BatchStatus.PAUSED,
        JobStatus.PAUSED,
    ),
    else_=JobStatus.QUEUED,
)
"""The status of a job that becomes ready to run: in a paused batch it waits for ``resume``."""
_QUEUE_DEPENDANT = (
    update(Job)
    .where(Job.id == bindparam("job"), Job.status == JobStatus.PENDING)
    .values(status=QUEUED_UNLESS_BATCH_PAUSED, published_at=None)
)
_UNFINISHED_JOB = (
    select(Job.id)
    .where(Job.batch_id == bindparam("batch"), Job.status.not_in(TERMINAL_JOB_STATUSES))
    .limit(1)
)


def claim(
    session: Session, job_id: int, worker: str, lease_s: float, now: datetime
) -> Claim | None:
    """Take a queued job under a lease; None when another worker has it or it is not queued."""
    db = session.connection()
    expires = now + timedelta(seconds=lease_s)
    row = db.execute(
        _CLAIM, {"job": job_id, "worker": worker, "expires": expires, "now": now}
    ).one_or_none()
    if row is None:
        return None
    batch_name, batch_status, fresh, budget = db.execute(_BATCH_OF, {"batch": row.batch_id}).one()
    if batch_status is BatchStatus.QUEUED:
        db.execute(_START_BATCH, {"batch": row.batch_id})
    return Claim(
        job_id=job_id,
        batch_id=row.batch_id,
        batch_name=batch_name,
        key=row.key,
        kind=row.kind,
        spec=row.spec,
        attempts=row.attempts,
        fresh=fresh,
        character_budget=budget,
    )


_ARTIFACT = (Artifact.name, Artifact.key, Artifact.bytes, Artifact.sha256, Artifact.content_type)


def artifacts_of(session: Session, batch_id: str, key: str) -> list[StoredArtifact]:
    """Every stored output of job ``key`` in the batch."""
    rows = session.execute(
        select(*_ARTIFACT)
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.batch_id == batch_id, Job.key == key)
        .order_by(Artifact.id)
    )
    return [StoredArtifact(*row) for row in rows]


def earlier_outputs(
    session: Session, request_sha256: str
) -> tuple[int, list[StoredArtifact]] | None:
    """The latest succeeded job that made the same request, with its outputs; None if none did."""
    source = session.scalar(
        select(Job.id)
        .where(Job.request_sha256 == request_sha256, Job.status == JobStatus.SUCCEEDED)
        .order_by(Job.finished_at.desc())
        .limit(1)
    )
    if source is None:
        return None
    rows = session.execute(
        select(*_ARTIFACT).where(Artifact.job_id == source).order_by(Artifact.id)
    )
    return source, [StoredArtifact(*row) for row in rows]


def extend_leases(
    session: Session, worker: str, job_ids: set[int], lease_s: float, now: datetime
) -> set[int]:
    """Push forward the leases of ``job_ids``, which ``worker`` claimed; those it still holds.

    Only the jobs named are renewed, never every job recorded under the worker's name: a process
    that took a dead one's name must not keep its jobs alive.
    """
    if not job_ids:
        return set()
    expires = now + timedelta(seconds=lease_s)
    params = {"jobs": sorted(job_ids), "worker": worker, "expires": expires}
    return set(session.connection().execute(_EXTEND_LEASES, params).scalars())


_ATTEMPT_FIELDS = [c.key for c in inspect(Attempt).column_attrs if c.key != "id"]


def record_attempt(session: Session, attempt: Attempt, *, counted: bool = True) -> None:
    """Store one API call (a transient ``Attempt``); ``counted`` ones use up the job's attempts.
    Values from the API that do not fit their columns are fitted, never refused: the answer is
    paid for."""
    db = session.connection()
    attempt = fit_to_columns(attempt)
    db.execute(insert(Attempt), [{name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}])
    if counted:
        db.execute(_COUNT_ATTEMPT, {"job": attempt.job_id})


def succeed(
    session: Session,
    claim_: Claim,
    worker: str,
    outputs: list[tuple[str, StoredObject]],
    now: datetime,
    request_sha256: str | None = None,
    cached_from: int | None = None,
) -> Finish:
    """Mark the job succeeded with its verified outputs and queue the dependants it unblocks;
    ``request_sha256`` names what was asked of the API, ``cached_from`` the job whose outputs
    were reused instead of asking."""
    finished = _finish_job(
        session, claim_.job_id, worker, JobStatus.SUCCEEDED, None, None, now,
        request_sha256, cached_from,
    )  # fmt: skip
    if not finished:
        return Finish(won=False, queued=[])
    db = session.connection()
    db.execute(_DROP_ARTIFACTS, {"job": claim_.job_id})
    if outputs:
        rows = [
            {
                "job_id": claim_.job_id,
                "batch_id": claim_.batch_id,
                "name": name,
                "key": obj.key,
                "uri": obj.uri,
                "bytes": obj.bytes,
                "sha256": obj.sha256,
                "content_type": obj.content_type,
                "created_at": now,
            }
            for name, obj in outputs
        ]
        db.execute(insert(Artifact), rows)
    return Finish(won=True, queued=_queue_ready_dependants(session, claim_.job_id))


def release(session: Session, job_id: int, worker: str) -> bool:
    """Hand job ``job_id``, held by ``worker`` and not yet sent to the API, back to the queue."""
    return bool(_take_back(session, worker, Job.id == job_id, status=QUEUED_UNLESS_BATCH_PAUSED))


def release_all(session: Session, worker: str) -> int:
    """Hand back every job ``worker`` holds (it is stopping); how many there were."""
    return _take_back(session, worker, status=QUEUED_UNLESS_BATCH_PAUSED)


def retry_later(
    session: Session,
    job_id: int,
    worker: str,
    error: str,
    error_code: str | None,
    next_attempt_at: datetime,
) -> bool:
    """Park the job in ``retrying`` until ``next_attempt_at``; the dispatcher re-queues it."""
    return _park(session, job_id, worker, JobStatus.RETRYING, error, error_code, next_attempt_at)


def _park(
    session: Session,
    job_id: int,
    worker: str,
    status: JobStatus,
    error: str,
    error_code: str | None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Take the job from ``worker`` and leave it waiting in ``status`` with its last error."""
    values = {"next_attempt_at": next_attempt_at, "error": error, "error_code": error_code}
    return bool(_take_back(session, worker, Job.id == job_id, status=status, **values))


def _take_back(session: Session, worker: str, *only: ColumnElement[bool], **values: object) -> int:
    """Take the running jobs ``worker`` holds (``only`` some) from it, setting ``values``; they
    wait for a new wake-up. How many there were."""
    return int(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.status == JobStatus.RUNNING, Job.lease_owner == worker, *only)
                .values(lease_owner=None, lease_expires_at=None, published_at=None, **values)
            )
        )
    )


_WAITING_TO_RUN = (JobStatus.QUEUED, JobStatus.RETRYING)
_ACTIVE_BATCH = (BatchStatus.QUEUED, BatchStatus.RUNNING)


def pause_for_account(
    session: Session, job_id: int, worker: str, reason: str, error_code: str | None
) -> int:
    """The API refused the account (401): park this job and every job not yet run, in every
    active batch, as ``paused`` until ``resume``; the number of batches paused.

    The deployment renders with one API key, so an account refusal stops all of its work: sending
    more requests would only be refused again, and failing the jobs would burn them.
    """
    _park(session, job_id, worker, JobStatus.PAUSED, reason, error_code)
    return _pause_batches(session, reason)


def _pause_batches(session: Session, reason: str, *only: ColumnElement[bool]) -> int:
    """Pause the active batches (``only`` some): their jobs not yet run wait as ``paused`` for
    ``resume``; jobs running now finish. How many batches were paused."""
    active = select(Batch.id).where(Batch.status.in_(_ACTIVE_BATCH), *only)
    session.execute(
        update(Job)
        .where(Job.status.in_(_WAITING_TO_RUN), Job.batch_id.in_(active))
        .values(status=JobStatus.PAUSED, published_at=None)
    )
    return int(
        rows_affected(
            session.execute(
                update(Batch)
                .where(Batch.status.in_(_ACTIVE_BATCH), *only)
                .values(status=BatchStatus.PAUSED, status_reason=f"paused: {reason}")
            )
        )
    )


CHARACTERS_SPENT = (
    select(func.coalesce(func.sum(Attempt.character_cost), 0))
    .where(Attempt.batch_id == Batch.id)
    .correlate(Batch)
    .scalar_subquery()
)
"""The characters the API charged for a batch's jobs, over every attempt (in a query of Batch);
read from ``ix_attempts_batch_id`` alone on PostgreSQL."""


def pause_over_budget(session: Session, batch_id: str | None = None) -> int:
    """Pause the active batches (``batch_id``, or any) that have spent their character budget;
    how many were paused. Jobs already sent to the API finish, so a batch may end a little over
    its budget, by what was in flight when the budget was reached."""
    over = select(Batch.id, Batch.name, Batch.character_budget, CHARACTERS_SPENT).where(
        Batch.character_budget.is_not(None),
        Batch.status.in_(_ACTIVE_BATCH),
        Batch.character_budget <= CHARACTERS_SPENT,
    )
    if batch_id is not None:
        over = over.where(Batch.id == batch_id)
    paused = 0
    for over_id, name, budget, spent in session.execute(over).all():
        reason = (
            f"character budget reached: {spent} of {budget} characters spent; "
            f"`audiobatch resume {over_id}` goes on without the budget ({name})"
        )
        paused += _pause_batches(session, reason, Batch.id == over_id)
    return paused


def fail(
    session: Session,
    claim_: Claim,
    worker: str,
    error: str,
    error_code: str | None,
    now: datetime,
) -> Finish:
    """Mark the job failed; every job that depends on it, directly or not, fails with it."""
    if not _finish_job(session, claim_.job_id, worker, JobStatus.FAILED, error, error_code, now):
        return Finish(won=False, queued=[])
    fail_dependants(session, claim_.job_id, now)
    return Finish(won=True, queued=[])


def _finish_job(
    session: Session,
    job_id: int,
    worker: str,
    status: JobStatus,
    error: str | None,
    error_code: str | None,
    now: datetime,
    request_sha256: str | None = None,
    cached_from: int | None = None,
) -> bool:
    params = {
        "job": job_id,
        "worker": worker,
        "new_status": status,
        "message": error,
        "code": error_code,
        "now": now,
        "request": request_sha256,
        "cached_from": cached_from,
    }
    return bool(rows_affected(session.connection().execute(_FINISH, params)))


def _queue_ready_dependants(session: Session, parent_id: int) -> list[tuple[int, str]]:
    """Queue the dependants of ``parent_id`` (just succeeded) whose parents have all succeeded.

    Two parents of one dependant finishing at the same moment would each, under READ COMMITTED,
    see the other unfinished, and neither would queue it. So the dependants are locked first, in
    id order: the second parent's transaction waits for the first to commit, and its readiness
    query, a statement of its own, then sees both successes. (SQLite runs one writer at a time.)
    """
    db = session.connection()
    pending = list(db.execute(_PENDING_DEPENDANTS, {"job": parent_id}).scalars())
    if not pending:
        return []
    locked = list(db.execute(_LOCK_JOBS, {"jobs": pending}).scalars())
    return _queue_ready(session, locked)


def _queue_ready(session: Session, job_ids: list[int]) -> list[tuple[int, str]]:
    """Queue those of ``job_ids`` still pending whose parents have all succeeded; them."""
    db = session.connection()
    ready = [(row.id, row.queue) for row in db.execute(_READY_AMONG, {"jobs": job_ids})]
    if ready:
        db.execute(_QUEUE_DEPENDANT, [{"job": job_id} for job_id, _ in ready])
    return ready


def promote_ready(session: Session, limit: int = 1000) -> list[tuple[int, str]]:
    """The dispatcher's backstop: queue pending jobs whose parents have all succeeded (a
    finisher that died between its success and queueing them, say); them, at most ``limit``."""
    candidates = list(
        session.scalars(
            select(Job.id)
            .where(Job.status == JobStatus.PENDING, _PARENTS_ALL_SUCCEEDED)
            .order_by(Job.id)
            .limit(limit)
        )
    )
    if not candidates:
        return []
    locked = list(session.connection().execute(_LOCK_JOBS, {"jobs": candidates}).scalars())
    return _queue_ready(session, locked)


def fail_orphans(session: Session, now: datetime) -> int:
    """The dispatcher's backstop: fail pending jobs a parent of which ended without succeeding
    (and their own dependants); how many were pending on such a parent."""
    orphans = list(
        session.scalars(
            select(Job.id)
            .join(_other, _other.job_id == Job.id)
            .join(_parent, _parent.id == _other.parent_id)
            .where(
                Job.status == JobStatus.PENDING,
                _parent.status.in_((JobStatus.FAILED, JobStatus.CANCELLED)),
            )
            .distinct()
        )
    )
    _fail_for_dependency(session, orphans, now)
    for orphan in orphans:
        fail_dependants(session, orphan, now)
    return len(orphans)


def fail_dependants(session: Session, parent_id: int, now: datetime) -> None:
    """Fail every job that depends on ``parent_id``, directly or not."""
    frontier = [parent_id]
    while frontier:
        children = list(
            session.scalars(
                select(JobDependency.job_id)
                .join(Job, Job.id == JobDependency.job_id)
                .where(
                    JobDependency.parent_id.in_(frontier),
                    Job.status.not_in(TERMINAL_JOB_STATUSES),
                )
            )
        )
        _fail_for_dependency(session, children, now)
        frontier = children


def _fail_for_dependency(session: Session, job_ids: list[int], now: datetime) -> None:
    """Fail ``job_ids`` (those not ended yet) because a job they depend on did not succeed."""
    if job_ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.status.not_in(TERMINAL_JOB_STATUSES))
            .values(
                status=JobStatus.FAILED,
                error=DEPENDENCY_FAILED,
                error_code="dependency_failed",
                finished_at=now,
            )
        )


def status_counts(session: Session, batch_id: str) -> dict[JobStatus, int]:
    """How many of the batch's jobs are in each status (absent statuses are left out)."""
    rows = session.execute(
        select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status)
    ).all()
    return {status: count for status, count in rows}


def end_batch_if_done(session: Session, batch_id: str, now: datetime) -> BatchStatus | None:
    """The batch's final status if this call ended it, None while jobs remain or it had ended.

    Call it in a transaction that starts after the job's end was committed (see the module note).
    """
    if session.connection().execute(_UNFINISHED_JOB, {"batch": batch_id}).first() is not None:
        return None
    counts = status_counts(session, batch_id)
    final = batch_outcome(counts)
    ended = rows_affected(
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status.not_in(TERMINAL_BATCH_STATUSES))
            .values(status=final, finished_at=now)
        )
    )
    return final if ended else None


def batch_outcome(counts: dict[JobStatus, int]) -> BatchStatus:
    """The final status of a batch whose jobs have all ended (an operator's cancel wins)."""
    if counts.get(JobStatus.CANCELLED):
        return BatchStatus.CANCELLED
    succeeded = counts.get(JobStatus.SUCCEEDED, 0)
    failed = counts.get(JobStatus.FAILED, 0)
    if failed and succeeded:
        return BatchStatus.PARTIAL
    if failed:
        return BatchStatus.FAILED
    if succeeded or not counts:
        return BatchStatus.SUCCEEDED
    return BatchStatus.CANCELLED
