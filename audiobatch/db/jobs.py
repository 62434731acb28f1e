"""The job state machine: every change of ``jobs.status`` is one of the named transitions here.

::

    pending ──promote──▶ queued ──claim──▶ running ──succeed──▶ succeeded
       │                   ▲  ▲               │ ├──fail──────▶ failed
       │                   │  └──release──────┤ ├──retry_later─▶ retrying ──requeue_due──▶ queued
       └──fail_dependants──┼─▶ failed         │ ├──park_for_account─▶ paused ──resume──▶ queued
                           └──take_back_expired┘ (a lost lease; failed as worker_lost at last)
    queued, retrying ──pause_waiting──▶ paused        not yet running ──cancel──▶ cancelled
    failed ──retry_failed──▶ queued, or pending while a parent has not succeeded
    succeeded, failed ──retake──▶ queued (an episode's part, with a new seed), or pending (the
                                  episode, until its parts have succeeded); the take goes up

Each is a conditional UPDATE whose WHERE clause is its guard (the status it leaves, and for a
running job the worker holding it), so of two concurrent transitions of one job exactly one wins,
and the caller learns which. A job that becomes ready to run in a paused batch waits as ``paused``
(:data:`QUEUED_UNLESS_BATCH_PAUSED`). Creating jobs (submission) and batch states live elsewhere
(:mod:`audiobatch.db.batches`); nothing else writes ``jobs.status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Update,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from audiobatch.db.columns import fit_to_columns
from audiobatch.db.models import (
    TERMINAL_JOB_STATUSES,
    Artifact,
    Attempt,
    Batch,
    BatchStatus,
    Job,
    JobDependency,
    JobStatus,
    status_in,
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
    source_roots: tuple[str, ...] = ()  # the folders its local sources must stay in
    take: int = 1  # a take after the first stores its outputs apart (see output_prefix)
    account: str = "default"  # the registered account whose API key renders it


@dataclass(frozen=True)
class Finish:
    """The outcome of finishing a job: whether this worker's end counted, and what became queued."""

    won: bool
    queued: list[tuple[int, str]]
    superseded: list[str] = field(default_factory=list)  # keys of an earlier take's outputs


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
    .returning(Job.batch_id, Job.key, Job.kind, Job.spec, Job.attempts, Job.take)
)
_BATCH_OF = select(
    Batch.name,
    Batch.status,
    Batch.fresh,
    Batch.character_budget,
    Batch.source_roots,
    Batch.account,
).where(Batch.id == bindparam("batch"))
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
# a success records what the loudness pass measured (None: nothing); a failure keeps the previous
# take's value, as it keeps that take's outputs
_SUCCEED = _FINISH.values(loudness=bindparam("loudness", type_=Job.__table__.c.loudness.type))
_DROP_ARTIFACTS = delete(Artifact).where(Artifact.job_id == bindparam("job"))
_ARTIFACT_KEYS = select(Artifact.key).where(Artifact.job_id == bindparam("job"))
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
    batch_name, batch_status, fresh, budget, roots, account = db.execute(
        _BATCH_OF, {"batch": row.batch_id}
    ).one()
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
        source_roots=tuple(roots or ()),
        take=row.take,
        account=account,
    )


def output_prefix(batch_name: str, batch_id: str, key: str, take: int) -> str:
    """Where a job's outputs are stored: ``<batch>/<batch id>/<key>``, and for a take after the
    first ``.../<key>/take-<n>`` (a job id holds no ``/``: no job's key can be such a folder)."""
    prefix = f"{batch_name}/{batch_id}/{key}"
    return prefix if take == 1 else f"{prefix}/take-{take}"


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
    loudness: dict[str, Any] | None = None,
) -> Finish:
    """Mark the job succeeded with its verified outputs and queue the dependants it unblocks;
    ``request_sha256`` names what was asked of the API, ``cached_from`` the job whose outputs
    were reused instead of asking, ``loudness`` what its loudness pass measured."""
    finished = _finish_job(
        session, _SUCCEED, claim_.job_id, worker, JobStatus.SUCCEEDED, None, None, now,
        request=request_sha256, cached_from=cached_from, loudness=loudness,
    )  # fmt: skip
    if not finished:
        return Finish(won=False, queued=[])
    db = session.connection()
    earlier = set(db.execute(_ARTIFACT_KEYS, {"job": claim_.job_id}).scalars())
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
    superseded = sorted(earlier - {obj.key for _, obj in outputs})
    return Finish(True, _queue_ready_dependants(session, claim_.job_id), superseded)


def release(session: Session, job_id: int, worker: str) -> bool:
    """Hand job ``job_id``, held by ``worker`` and not yet sent to the API, back to the queue."""
    return bool(_take_back(session, worker, Job.id == job_id, status=QUEUED_UNLESS_BATCH_PAUSED))


def release_all(session: Session, worker: str) -> int:
    """Hand back every job ``worker`` holds (it is stopping); how many there were."""
    return _take_back(session, worker, status=QUEUED_UNLESS_BATCH_PAUSED)


def withdraw_if_batch_paused(session: Session, job_id: int, batch_id: str, worker: str) -> bool:
    """Hand job ``job_id``, held by ``worker`` and not yet sent to the API, back as ``paused``
    when its batch was paused since the claim (its budget spent while the job waited for a
    slot); whether it was. Reads first, so the common answer takes no write lock on SQLite; the
    batch's row is then locked, as ``resume`` locks it, so a resume cannot miss the job."""
    if session.scalar(_BATCH_STATUS, {"batch": batch_id}) is not BatchStatus.PAUSED:
        return False
    if session.scalar(_BATCH_STATUS.with_for_update(read=True), {"batch": batch_id}) is not (
        BatchStatus.PAUSED
    ):
        return False
    return bool(_take_back(session, worker, Job.id == job_id, status=JobStatus.PAUSED))


_BATCH_STATUS = select(Batch.status).where(Batch.id == bindparam("batch"))


def retry_later(
    session: Session,
    job_id: int,
    worker: str,
    error: str,
    error_code: str | None,
    next_attempt_at: datetime,
) -> bool:
    """Park the job in ``retrying`` until ``next_attempt_at``; the reconciler re-queues it."""
    return _park(session, job_id, worker, JobStatus.RETRYING, error, error_code, next_attempt_at)


def park_for_account(
    session: Session, job_id: int, worker: str, reason: str, error_code: str | None
) -> bool:
    """The API refused the account: the job waits as ``paused`` until an operator resumes it."""
    return _park(session, job_id, worker, JobStatus.PAUSED, reason, error_code)


_WAITING_TO_RUN = (JobStatus.QUEUED, JobStatus.RETRYING)


def pause_waiting(session: Session, batch_ids: Select[tuple[str]] | Select[str]) -> None:
    """The jobs not yet run of the batches ``batch_ids`` selects wait as ``paused``; jobs
    running now finish."""
    session.execute(
        update(Job)
        .where(Job.status.in_(_WAITING_TO_RUN), Job.batch_id.in_(batch_ids))
        .values(status=JobStatus.PAUSED, published_at=None)
    )


def requeue_due(session: Session, now: datetime) -> int:
    """``retrying`` jobs whose wait is over become ``queued`` again (``paused`` in a paused
    batch); how many."""
    return int(
        rows_affected(
            session.execute(
                update(Job)
                .where(status_in(Job.status, {JobStatus.RETRYING}), Job.next_attempt_at <= now)
                .values(status=QUEUED_UNLESS_BATCH_PAUSED, next_attempt_at=None, published_at=None)
            )
        )
    )


WORKER_LOST = "worker_lost"


def take_back_expired(session: Session, now: datetime, max_lost_leases: int) -> int:
    """``running`` jobs whose worker stopped renewing its lease go back to ``queued`` (or
    ``paused``); a job that has now lost ``max_lost_leases`` workers fails as ``worker_lost``
    instead of killing workers forever. Returns how many leases expired."""
    expired = status_in(Job.status, {JobStatus.RUNNING}), Job.lease_expires_at < now
    doomed = list(
        session.scalars(
            update(Job)
            .where(*expired, Job.lost_leases + 1 >= max_lost_leases)
            .values(
                status=JobStatus.FAILED,
                lost_leases=Job.lost_leases + 1,
                error=f"{WORKER_LOST}: the worker rendering this job stopped "
                f"{max_lost_leases} times (killed, out of memory, or stalled)",
                error_code=WORKER_LOST,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(Job.id)
        )
    )
    for job_id in doomed:
        fail_dependants(session, job_id, now)
    requeued = rows_affected(
        session.execute(
            update(Job)
            .where(*expired)
            .values(
                status=QUEUED_UNLESS_BATCH_PAUSED,
                lost_leases=Job.lost_leases + 1,
                lease_owner=None,
                lease_expires_at=None,
                published_at=None,
            )
        )
    )
    return len(doomed) + int(requeued)


def retry_failed(session: Session, job_ids: list[int]) -> int:
    """Failed jobs ``job_ids`` run again with their attempts anew: ``queued``, or ``pending``
    while a job they depend on has not succeeded (it is queued when they all have); how many."""
    waiting = set(
        session.scalars(
            select(_other.job_id)
            .join(_parent, _parent.id == _other.parent_id)
            .where(_other.job_id.in_(job_ids), _parent.status != JobStatus.SUCCEEDED)
        )
    )
    again = {"attempts": 0, "error": None, "error_code": None, "finished_at": None}
    again |= {"next_attempt_at": None, "published_at": None}
    retried = 0
    for status, ids in (
        (JobStatus.PENDING, [i for i in job_ids if i in waiting]),
        (JobStatus.QUEUED, [i for i in job_ids if i not in waiting]),
    ):
        if ids:
            retried += rows_affected(
                session.execute(
                    update(Job)
                    .where(Job.id.in_(ids), Job.status == JobStatus.FAILED)
                    .values(status=status, **again)
                )
            )
    return retried


def retake(session: Session, episode_id: int, seeds: dict[int, int]) -> int:
    """Parts ``seeds`` of episode ``episode_id`` (each ended) render again as their next take,
    part ``i`` with seed ``seeds[i]``: queued, and the episode ``pending`` until they have
    succeeded, its attempts anew. Their outputs stay until the new take's replace them
    (:func:`succeed`). How many jobs changed: fewer than all when one had not ended."""
    ended = (JobStatus.SUCCEEDED, JobStatus.FAILED)
    again: dict[str, object] = {"attempts": 0, "error": None, "error_code": None}
    again |= {"finished_at": None, "next_attempt_at": None, "published_at": None}
    again |= {"take": Job.take + 1}
    changed = 0
    for part_id in sorted(seeds):
        spec = session.scalar(select(Job.spec).where(Job.id == part_id))
        changed += rows_affected(
            session.execute(
                update(Job)
                .where(Job.id == part_id, Job.status.in_(ended))
                .values(
                    status=JobStatus.QUEUED, spec={**(spec or {}), "seed": seeds[part_id]}, **again
                )
            )
        )
    changed += rows_affected(
        session.execute(
            update(Job)
            .where(Job.id == episode_id, Job.status.in_(ended))
            .values(status=JobStatus.PENDING, **again)
        )
    )
    return changed


_NOT_STARTED = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.PAUSED)


def cancel(session: Session, batch_id: str, now: datetime, *, running_too: bool) -> int:
    """Cancel the batch's jobs not started yet (and, ``running_too``, those running: their
    workers find the job gone at their next lease renewal and record nothing); how many."""
    stopped = [*_NOT_STARTED, JobStatus.RUNNING] if running_too else list(_NOT_STARTED)
    return int(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.batch_id == batch_id, Job.status.in_(stopped))
                .values(
                    status=JobStatus.CANCELLED,
                    finished_at=now,
                    error="cancelled by operator",
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        )
    )


def resume(session: Session, batch_id: str) -> int:
    """The batch's paused jobs are queued again; how many."""
    return int(
        rows_affected(
            session.execute(
                update(Job)
                .where(Job.batch_id == batch_id, Job.status == JobStatus.PAUSED)
                .values(status=JobStatus.QUEUED, published_at=None)
            )
        )
    )


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


def fail(
    session: Session,
    claim_: Claim,
    worker: str,
    error: str,
    error_code: str | None,
    now: datetime,
) -> Finish:
    """Mark the job failed; every job that depends on it, directly or not, fails with it."""
    if not _finish_job(
        session, _FINISH, claim_.job_id, worker, JobStatus.FAILED, error, error_code, now,
        request=None, cached_from=None,
    ):  # fmt: skip
        return Finish(won=False, queued=[])
    fail_dependants(session, claim_.job_id, now)
    return Finish(won=True, queued=[])


def _finish_job(
    session: Session,
    finish: Update,
    job_id: int,
    worker: str,
    status: JobStatus,
    error: str | None,
    error_code: str | None,
    now: datetime,
    **values: object,
) -> bool:
    """Run ``finish`` (:data:`_FINISH` or :data:`_SUCCEED`, ``values`` for its other parameters)
    on the job if ``worker`` still holds it; whether it did."""
    params = {
        "job": job_id,
        "worker": worker,
        "new_status": status,
        "message": error,
        "code": error_code,
        "now": now,
        **values,
    }
    return bool(rows_affected(session.connection().execute(finish, params)))


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
    """The reconciler's backstop: queue pending jobs whose parents have all succeeded (a
    finisher that died between its success and queueing them, say); them, at most ``limit``."""
    candidates = list(
        session.scalars(
            select(Job.id)
            .where(status_in(Job.status, {JobStatus.PENDING}), _PARENTS_ALL_SUCCEEDED)
            .order_by(Job.id)
            .limit(limit)
        )
    )
    if not candidates:
        return []
    locked = list(session.connection().execute(_LOCK_JOBS, {"jobs": candidates}).scalars())
    return _queue_ready(session, locked)


def fail_orphans(session: Session, now: datetime) -> int:
    """The reconciler's backstop: fail pending jobs a parent of which ended without succeeding
    (and their own dependants); how many were pending on such a parent."""
    orphans = list(
        session.scalars(
            select(Job.id)
            .join(_other, _other.job_id == Job.id)
            .join(_parent, _parent.id == _other.parent_id)
            .where(
                status_in(Job.status, {JobStatus.PENDING}),
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
