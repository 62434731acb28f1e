"""The JSON API's response shapes, for validation and the OpenAPI document (``/docs``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from audiobatch.dashboard.filters import blank_is_none
from audiobatch.db.models import CatchUpPolicy, OverlapPolicy


class Output(BaseModel):
    name: str
    uri: str
    bytes: int
    sha256: str
    content_type: str
    url: str  # where the dashboard serves it (a presigned URL on S3, a stream from local storage)


class BatchSummary(BaseModel):
    id: str
    name: str
    status: str
    reason: str | None
    tags: list[str]  # sorted
    priority: str  # urgent, normal, bulk, or its number (0-100, higher first)
    account: str  # the registered account whose API key renders it
    source: str
    created_at: str
    finished_at: str | None
    counts: dict[str, int]
    schedule: str | None
    slot: str | None
    backend: str | None  # what rendered it: "emulator", the API's base URL, "mixed"; None yet
    characters: int  # charged by the API over every attempt
    music_minutes: float  # composed by its music jobs (not reused from earlier batches)
    character_budget: int | None
    continue_at_reset: bool | None  # paused on the quota, goes on at the reset; None: as set
    continues_at: str | None  # when a quota-paused batch goes on by itself


class BatchPage(BaseModel):
    items: list[BatchSummary]
    total: int
    page: int
    per_page: int


class OutputTotals(BaseModel):
    files: int
    bytes: int


class Delivery(BaseModel):
    """A webhook delivery of the batch's events (see audiobatch.db.webhooks)."""

    id: str  # the webhook-id header: receivers dedupe by it
    event: str
    url: str  # without credentials or query
    state: str  # pending, retrying, delivered, gave_up
    attempts: int
    last_status: int | None  # the receiver's last HTTP status
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None


class BatchDetail(BatchSummary):
    total: int
    ended: int
    progress: float  # ended / total, 0 to 1
    jobs_per_s: float | None  # over the last five minutes
    eta_s: float | None  # null when ended, or with eta_reason
    eta_reason: str | None  # "paused", "no live worker", "no job ended lately"
    no_live_worker: bool  # jobs left wait on queues no live worker serves
    outputs: OutputTotals
    usage_as_of: str  # when characters and outputs were summed
    deliveries: list[Delivery]  # its webhook deliveries, oldest first


class Parts(BaseModel):
    done: int
    total: int


class LoudnessMeasurement(BaseModel):
    integrated_lufs: float
    true_peak_db: float
    sample_peak_db: float
    rms_db: float
    noise_floor_db: float
    duration_s: float


class LoudnessView(BaseModel):
    """What a job's loudness pass measured (its ``loudness.json``): its aim, the audio before and
    after."""

    standard: str  # podcast, audiobook, custom
    target: dict[str, float]  # integrated_lufs or rms_db, and true_peak_db
    before: LoudnessMeasurement
    after: LoudnessMeasurement
    gain_db: float
    gain_reduced_db: float  # held back not to clip
    acx: dict[str, bool] | None  # audiobook: rms_ok, peak_ok, noise_floor_ok
    notes: list[str]


class JobRow(BaseModel):
    job_id: int
    id: str  # the manifest's job id
    batch_id: str
    kind: str
    status: str
    attempts: int
    cached: bool
    error: str | None
    error_code: str | None
    started_at: str | None
    finished_at: str | None
    outputs: list[Output]
    part_of: str | None  # the episode this job is a part of
    parts: Parts | None  # an episode's parts
    characters: int  # charged by the API over its attempts (an episode's: its parts')
    music_minutes: float
    loudness: LoudnessView | None  # a job normalised to a loudness setting


class JobPage(BaseModel):
    items: list[JobRow]
    total: int
    page: int
    per_page: int


class AttemptView(BaseModel):
    number: int
    worker: str
    started_at: str
    finished_at: str
    outcome: str
    http_status: int | None
    error_code: str | None
    error_message: str | None
    request_id: str | None
    latency_ms: int
    character_cost: int | None


class JobDetail(JobRow):
    batch_name: str
    request: dict[str, Any]
    depends_on: list[str]
    cached_from: int | None
    next_attempt_at: str | None
    attempt_log: list[AttemptView]


class BucketView(BaseModel):
    start: str
    end: str
    succeeded: int
    failed: int
    failed_attempts: int


class PoolView(BaseModel):
    pool: str
    size: int
    ceiling: int
    limit: float
    in_use: int  # slots held, as the limiter counts them (the shared one; see ``shared``)
    jobs_in_hand: int  # jobs of this pool the live workers hold, from their heartbeats


class LimiterView(BaseModel):
    account: str  # whose pools these are
    accounts: list[str]  # the registered accounts' names
    scope: str
    shared: bool  # False: each worker keeps its own limiter, whose slots the dashboard cannot see
    key_hash: str | None
    pools: list[PoolView]
    queues: dict[str, int]  # wake-ups waiting per job queue; empty when the broker cannot tell


class WorkerView(BaseModel):
    id: str  # the process identity: host, pid and a random part
    host: str
    pid: int
    role: str  # worker | scheduler
    queues: list[str]
    concurrency: int
    jobs_in_hand: list[int]
    version: str
    started_at: str
    last_seen_at: str
    stopped_at: str | None
    live: bool
    state: str  # live | stopped | gone


class FleetView(BaseModel):
    workers: list[WorkerView]  # the live first, then the most recently seen
    unserved_queues: list[str]  # queues that jobs not yet ended wait on and no live worker serves


class Whoami(BaseModel):
    role: str
    token_required: bool


class ActionResult(BaseModel):
    action: str
    batch_id: str | None
    jobs: int
    message: str


class ScheduleForm(BaseModel):
    """A schedule to add: the options of ``audiobatch schedule add``, as form fields."""

    name: str = Field(description="The schedule's name.")
    cron: str = Field(description="Five fields, e.g. '30 2 * * *' (02:30 daily), or @daily.")
    manifest: str = Field(
        description="A manifest file on the dashboard's host (and the scheduler's), or "
        "s3://bucket/key; read at firing."
    )
    timezone: str = Field("UTC", description="IANA zone of the cron times, e.g. Europe/Berlin.")
    overlap: OverlapPolicy = Field(
        OverlapPolicy.SKIP, description="skip a slot while the previous batch runs, or allow it."
    )
    catch_up: CatchUpPolicy = Field(
        CatchUpPolicy.LATEST, description="After downtime: run the latest missed slot, or skip it."
    )
    character_budget: Annotated[int | None, BeforeValidator(blank_is_none)] = Field(
        None, description="Characters a run may spend before it pauses."
    )
    store: bool = Field(False, description="Keep the manifest file's text with the schedule.")
