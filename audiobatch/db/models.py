"""SQLAlchemy 2 models: the source of truth for batches, jobs, API attempts and stored artifacts."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TextClause,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JobStatus(enum.StrEnum):
    PENDING = "pending"  # waits for the jobs it depends on
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"  # waits in SQL until next_attempt_at
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
UNENDED_JOB_STATUSES = frozenset(set(JobStatus) - TERMINAL_JOB_STATUSES)


class BatchStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, some jobs failed
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_BATCH_STATUSES = frozenset(
    {BatchStatus.SUCCEEDED, BatchStatus.PARTIAL, BatchStatus.FAILED, BatchStatus.CANCELLED}
)
UNENDED_BATCH_STATUSES = frozenset(set(BatchStatus) - TERMINAL_BATCH_STATUSES)
"""Asked for with IN rather than NOT IN, a query can use the index on the status."""


def status_in(
    column: QueryableAttribute[Any], statuses: Iterable[enum.StrEnum]
) -> ColumnElement[bool]:
    """``column IN (...)`` with the statuses written into the SQL rather than bound: the plan of
    a prepared statement (which psycopg makes of a statement run often) then still knows the rows
    asked for lie within an index over unended rows (:data:`UNENDED_JOBS`)."""
    values = sorted(statuses)
    return column.in_(bindparam(None, values, column.type, expanding=True, literal_execute=True))


def _unended(statuses: frozenset[Any]) -> TextClause:
    """The predicate of a partial index over the rows in ``statuses``, for both dialects."""
    return text("status IN (" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")")


UNENDED_JOBS, UNENDED_BATCHES = _unended(UNENDED_JOB_STATUSES), _unended(UNENDED_BATCH_STATUSES)
"""Partial indexes over these rows stay as small as the work in hand, however long the history:
a query that names unended statuses (:func:`status_in`) is answered from them."""


def _unended_index(name: str, *columns: str, rows: TextClause = UNENDED_JOBS) -> Index:
    return Index(name, *columns, postgresql_where=rows, sqlite_where=rows)


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


EPISODE_PARTS = text("part_of IS NOT NULL")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class OverlapPolicy(enum.StrEnum):
    """What a slot does while the schedule's previous batch has not ended."""

    SKIP = "skip"  # the slot is recorded as skipped
    ALLOW = "allow"  # a new batch runs beside the old one


class CatchUpPolicy(enum.StrEnum):
    """What a scheduler that was not running at a slot does when it starts."""

    SKIP = "skip"  # missed slots are recorded as skipped
    LATEST = "latest"  # the latest missed slot runs, once


class FiringOutcome(enum.StrEnum):
    FIRED = "fired"  # a batch was created
    SKIPPED = "skipped"  # by the overlap or the catch-up policy
    FAILED = "failed"  # the manifest was missing or invalid


class Schedule(Base):
    """A manifest rendered at every slot of a cron expression in a time zone."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # an absolute path or an s3:// URI; for a stored manifest, the file it was read from
    manifest: Mapped[str] = mapped_column(Text)
    manifest_text: Mapped[str | None] = mapped_column(Text)  # stored with the schedule
    enabled: Mapped[bool] = mapped_column(default=True)
    overlap: Mapped[OverlapPolicy] = mapped_column(_enum(OverlapPolicy, "overlap_policy"))
    catch_up: Mapped[CatchUpPolicy] = mapped_column(_enum(CatchUpPolicy, "catch_up_policy"))
    character_budget: Mapped[int | None]  # per run; the batch pauses when it is spent
    next_slot_at: Mapped[datetime] = mapped_column(index=True)  # the first slot not yet handled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleFiring(Base):
    """What became of one slot of a schedule (or of one ``schedule run``)."""

    __tablename__ = "schedule_firings"
    __table_args__ = (UniqueConstraint("schedule_id", "slot_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    slot_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    outcome: Mapped[FiringOutcome] = mapped_column(_enum(FiringOutcome, "firing_outcome"))
    reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"))


class Batch(Base):
    __tablename__ = "batches"
    # one batch per slot of a schedule, whichever scheduler fires it
    __table_args__ = (
        Index("ix_batches_schedule_id_slot_at", "schedule_id", "slot_at", unique=True),
        # the reconciler: unended batches, and ended ones whose results.json is still to write
        _unended_index("ix_batches_unended_status", "status", rows=UNENDED_BATCHES),
        Index(
            "ix_batches_results_due",
            "status",
            postgresql_where=text("results_at IS NULL"),
            sqlite_where=text("results_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[BatchStatus] = mapped_column(_enum(BatchStatus, "batch_status"), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    fresh: Mapped[bool] = mapped_column(default=False, server_default=false())  # never reuse
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    results_at: Mapped[datetime | None]  # when results.json was written for the batch's end
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    slot_at: Mapped[datetime | None]  # the schedule's slot this batch renders
    character_budget: Mapped[int | None]  # characters it may spend before it pauses
    # what rendered its outputs: "emulator", the API's base URL, or "mixed"; noted as its jobs
    # succeed (audiobatch.db.backends), None until one has
    backend: Mapped[str | None] = mapped_column(String(300))
    # the folders (absolute, links resolved) its local sources must stay in: the worker checks
    # every path against them again before it reads; None (written before they were kept): none
    source_roots: Mapped[list[str] | None] = mapped_column(JSON)
    # paused on the account's quota, the batch goes on by itself at the account's next reset:
    # True or False as submitted, None as the deployment's setting says
    continue_at_reset: Mapped[bool | None]
    resume_at: Mapped[datetime | None]  # when the reconciler resumes it (the next reset)
    # higher first: workers take the queued jobs of the most urgent batch (audiobatch.priorities)
    priority: Mapped[int] = mapped_column(default=50, server_default="50")
    # the registered account whose API key renders it (audiobatch.accounts); never the key
    account: Mapped[str] = mapped_column(String(40), default="default", server_default="default")
    # its manifest's webhook (audiobatch.manifest.notify.Notify.as_json), None: none of its own
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    jobs: Mapped[list[Job]] = relationship(back_populates="batch", order_by="Job.id")
    schedule: Mapped[Schedule | None] = relationship()


class BatchTag(Base):
    """A label a batch carries (see :mod:`audiobatch.manifest.tags`); batches are found by tag
    through the index on ``tag``."""

    __tablename__ = "batch_tags"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class WebhookEvent(Base):
    """Something that happened to a batch that webhooks tell: written in the transaction of the
    change itself, so that no crash loses it; ``addressed_at`` once its deliveries are written
    (one per receiver: the deployment's URL and the batch's own)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index(
            "ix_webhook_events_unaddressed",
            "created_at",
            postgresql_where=text("addressed_at IS NULL"),
            sqlite_where=text("addressed_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte what is signed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    addressed_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event to send to one URL: the outbox row a sender claims (``leased_until``), sends and
    records the answer of, until it is delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND gave_up_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL AND gave_up_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the webhook-id header
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]  # a sender holds it until then
    last_status: Mapped[int | None]  # the receiver's last HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    gave_up_at: Mapped[datetime | None]

    event: Mapped[WebhookEvent] = relationship()


class SubmissionKey(Base):
    """An ``Idempotency-Key`` a client sent with a submission, and the batch it made: the same
    key sent again returns that batch instead of writing another."""

    __tablename__ = "submission_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("batch_id", "key"),
        Index("ix_jobs_batch_id_status", "batch_id", "status"),
        # the reconciler, over unended jobs only: retries due, leases expired, wake-ups to send
        # (never, or lost) and pending jobs to queue; an unended batch's unended jobs are sought
        # in ix_jobs_batch_id_status, one status at a time
        _unended_index("ix_jobs_unended_next_attempt_at", "status", "next_attempt_at"),
        _unended_index("ix_jobs_unended_lease_expires_at", "status", "lease_expires_at"),
        _unended_index(
            "ix_jobs_unended_queue_published_at", "status", "queue", "published_at", "id"
        ),
        # a worker's claim: a batch's next queued job of a queue (audiobatch.db.claims)
        _unended_index("ix_jobs_unended_batch_id_queue", "batch_id", "queue", "status", "id"),
        # the dashboard: a batch's ETA and throughput, its error classes, finished jobs over time
        Index("ix_jobs_batch_id_finished_at", "batch_id", "finished_at"),
        Index("ix_jobs_batch_id_error_code", "batch_id", "error_code"),
        Index("ix_jobs_finished_at", "finished_at"),
        # a batch's episode parts (what is being stitched), without reading its other jobs
        Index(
            "ix_jobs_batch_id_parts",
            "batch_id",
            "part_of",
            postgresql_where=EPISODE_PARTS,
            sqlite_where=EPISODE_PARTS,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))  # the manifest's job id
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]]
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    lost_leases: Mapped[int] = mapped_column(default=0, server_default="0")  # workers died on it
    # 1, then one more at each retake; a take after the first stores under <key>/take-<n>, so
    # the previous take's outputs stay whole until the new ones are verified and committed
    take: Mapped[int] = mapped_column(default=1, server_default="1")
    # what was asked of the API (request and inputs); a succeeded job's outputs serve any later
    # job asking the same, which is then ``cached_from`` it and costs no generation
    request_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    cached_from: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    music_ms: Mapped[int | None]  # the music a music job composes, when its spec says how long
    # what its loudness pass measured (its ``loudness.json``), committed with its outputs; None for
    # a job rendered without a loudness setting
    loudness: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # a part of an episode (a dialogue job too long for one request) names the episode's job,
    # which depends on its parts and stitches their outputs
    part_of: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        index=True,
    )
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    batch: Mapped[Batch] = relationship(back_populates="jobs")
    artifacts: Mapped[list[Artifact]] = relationship(back_populates="job", order_by="Artifact.id")
    attempt_rows: Mapped[list[Attempt]] = relationship(back_populates="job", order_by="Attempt.id")


class JobDependency(Base):
    """``job_id`` reads the output of ``parent_id`` and waits in ``pending`` until it succeeds."""

    __tablename__ = "job_dependencies"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Attempt(Base):
    """One API call made for a job, whatever its outcome."""

    __tablename__ = "attempts"
    __table_args__ = (
        # the dashboard's chart of attempts over time
        Index("ix_attempts_finished_at", "finished_at"),
        # a batch's characters spent, read from the index alone on PostgreSQL
        Index("ix_attempts_batch_id", "batch_id", postgresql_include=["character_cost"]),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    # the job's batch, written with the row (a job never changes batch): a batch's sums need no join
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # succeeded retry failed paused abandoned
    http_status: Mapped[int | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    latency_ms: Mapped[int]
    character_cost: Mapped[int | None]

    job: Mapped[Job] = relationship(back_populates="attempt_rows")


class Artifact(Base):
    """A stored, verified output of a job."""

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("job_id", "name"),
        # a batch's outputs, counted and summed from the index alone on PostgreSQL
        Index("ix_artifacts_batch_id", "batch_id", postgresql_include=["bytes"]),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    # the job's batch, written with the row (a job never changes batch): a batch's sums need no join
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(Text)  # the storage key, relative to the storage root
    uri: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="artifacts")


class Tally(Base):
    """A change to one of a batch's kept counts or sums (``folded``: the sum of earlier ones),
    appended by the database's triggers as rows change; see :mod:`audiobatch.db.tallies`."""

    __tablename__ = "tallies"
    __table_args__ = (
        Index("ix_tallies_batch_id_name", "batch_id", "name", postgresql_include=["value"]),
        Index(
            "ix_tallies_unfolded",
            "batch_id",
            postgresql_where=text("NOT folded"),
            sqlite_where=text("NOT folded"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # no foreign key: a deleted batch's rows leave deltas that cancel out, removed with the batch
    batch_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(BigInteger)
    folded: Mapped[bool] = mapped_column(default=False, server_default=false())


class PendingDeletion(Base):
    """A stored object or an upload folder of a pruned batch, removed after the batch's rows were
    deleted: kept until its removal succeeds, so the next ``prune`` finishes what one could not."""

    __tablename__ = "pending_deletions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # object | folder
    target: Mapped[str] = mapped_column(Text)  # the storage key, or the folder's absolute path
    batch_id: Mapped[str] = mapped_column(String(32))  # the pruned batch's id (its row is gone)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerProcess(Base):
    """A worker, scheduler or embedded process, as its last heartbeat described it."""

    __tablename__ = "workers"

    # unique per process start: host, pid and a random part (a restarted container reuses both)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))  # worker | scheduler
    queues: Mapped[list[str]] = mapped_column(JSON)
    concurrency: Mapped[int]
    jobs_in_hand: Mapped[list[int]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]  # a clean exit; a killed process just stops being seen


class DashboardSession(Base):
    """A browser logged in to the dashboard as an operator, until it logs out or the session
    expires."""

    __tablename__ = "dashboard_sessions"

    # the SHA-256 of the cookie's random value: the database never holds a usable cookie
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # an HMAC of the token it was opened with: setting another token ends every session
    token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
