"""The JSON API: batches, jobs, schedules, the limiter and queues, activity over time. Read-only
and open to viewers; the write actions are in :mod:`audiobatch.dashboard.actions`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.dashboard.auth import RoleDep
from audiobatch.dashboard.downloads import output_url
from audiobatch.dashboard.filters import BatchFilterDep, JobFilterDep, JobId, Paging, PagingDep
from audiobatch.dashboard.schemas import (
    BatchDetail,
    BatchPage,
    BucketView,
    FleetView,
    JobDetail,
    JobPage,
    LimiterView,
    Whoami,
)
from audiobatch.dashboard.state import DashboardState, SessionDep, StateDep
from audiobatch.db.activity import Bucket, activity
from audiobatch.db.clock import database_now
from audiobatch.db.listings import (
    JobFilter,
    batch_summaries,
    find_batches,
    find_job,
    find_jobs,
    job_detail,
    job_rows,
)
from audiobatch.db.models import Batch, utcnow
from audiobatch.db.progress import batch_progress
from audiobatch.db.reports import find_batch, results_body
from audiobatch.db.schedules import list_schedules, schedule_view
from audiobatch.db.webhooks import deliveries_of
from audiobatch.db.workers import fleet_view, jobs_in_hand_by_pool, unserved_queues

router = APIRouter(prefix="/api")

MAX_BUCKETS = 500


@router.get("/batches", response_model=BatchPage, tags=["batches"])
def batches(session: SessionDep, flt: BatchFilterDep, paging: PagingDep) -> dict[str, Any]:
    """Batches, newest first, filtered by status, name, schedule, creation time and tag."""
    found = find_batches(session, flt, paging.page, paging.per_page)
    return {**_page(found.total, paging), "items": batch_summaries(session, found.items)}


@router.get("/batches/{batch}", response_model=BatchDetail, tags=["batches"])
def batch(batch: str, session: SessionDep, state: StateDep) -> dict[str, Any]:
    """One batch (by id, id prefix or name): counts, progress, ETA, characters spent and outputs
    stored (these two as summed at ``usage_as_of``, at most a few seconds ago)."""
    return batch_detail(session, state, find_batch(session, batch))


@router.get(
    "/batches/{batch}/results",
    tags=["batches"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def batch_results(batch: str, session: SessionDep) -> Response:
    """The batch's ``results.json`` as it stands now: every job's status, attempts and outputs
    (what is stored beside the outputs when the batch ends)."""
    body = results_body(session, find_batch(session, batch))
    return Response(body, media_type="application/json")


@router.get("/batches/{batch}/jobs", response_model=JobPage, tags=["jobs"])
def batch_jobs(
    batch: str, session: SessionDep, flt: JobFilterDep, paging: PagingDep
) -> dict[str, Any]:
    """The batch's jobs, filtered by status, kind and error class."""
    found = find_batch(session, batch)
    return job_page(session, replace(flt, batch_id=found.id), paging)


@router.get("/jobs", response_model=JobPage, tags=["jobs"])
def jobs(
    session: SessionDep,
    flt: JobFilterDep,
    paging: PagingDep,
    batch: Annotated[str | None, Query(description="Batch id, id prefix or name.")] = None,
) -> dict[str, Any]:
    """Jobs of every batch (or one), filtered by status, kind and error class."""
    if batch:
        flt = replace(flt, batch_id=find_batch(session, batch).id)
    return job_page(session, flt, paging)


@router.get("/jobs/{job_id}", response_model=JobDetail, tags=["jobs"])
def job(job_id: JobId, session: SessionDep) -> dict[str, Any]:
    """One job: its request, every attempt (status code, error code, request id), its outputs,
    what its loudness pass measured."""
    return with_urls(job_detail(session, find_job(session, job_id)))


@router.get("/batches/{batch}/activity", response_model=list[BucketView], tags=["activity"])
def batch_activity(
    batch: str,
    session: SessionDep,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 40,
) -> list[dict[str, Any]]:
    """Jobs that succeeded and failed, and failed attempts, over the batch's life."""
    return [bucket_view(b) for b in batch_buckets(session, find_batch(session, batch), buckets)]


@router.get("/activity", response_model=list[BucketView], tags=["activity"])
def recent_activity(
    session: SessionDep,
    hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 48,
) -> list[dict[str, Any]]:
    """Jobs that succeeded and failed, and failed attempts, over the last ``hours``, every batch."""
    return [bucket_view(b) for b in recent_buckets(session, hours, buckets)]


@router.get("/schedules", tags=["schedules"])
def schedules(session: SessionDep) -> list[dict[str, Any]]:
    """Every schedule with its next run, its last run (and why it was skipped or failed) and
    its last batch: the ``schedule list --json`` shape."""
    return [schedule_view(session, s) for s in list_schedules(session)]


AccountQuery = Annotated[
    str, Query(description="The registered account whose limiter to show (422 when unknown).")
]


@router.get("/limiter", response_model=LimiterView, tags=["system"])
def limiter(
    state: StateDep, session: SessionDep, account: AccountQuery = DEFAULT_ACCOUNT
) -> dict[str, Any]:
    """An account's concurrency limiter (each key has pools of its own: slots in use, adaptive
    window; the jobs live workers hold, of every account) and the wake-ups waiting in each job
    queue."""
    return limiter_state(state, session, account)


@router.get("/workers", response_model=FleetView, tags=["system"])
def workers(session: SessionDep) -> dict[str, Any]:
    """Every worker and scheduler process on record (the ``workers --all --json`` rows: queues,
    concurrency, jobs in hand, last heartbeat, live, stopped or gone), and the queues that jobs
    not yet ended wait on with no live worker serving them."""
    now = database_now(session)
    return {
        "workers": fleet_view(session, now),
        "unserved_queues": unserved_queues(session, None, now),
    }


@router.get("/whoami", response_model=Whoami, tags=["system"])
def whoami(role: RoleDep, state: StateDep) -> dict[str, Any]:
    """This request's role: ``viewer`` reads, ``operator`` also acts."""
    return {"role": role.value, "token_required": state.settings.dashboard_token is not None}


def batch_detail(session: Session, state: DashboardState, batch: Batch) -> dict[str, Any]:
    """The batch's progress, with its usage as last summed, and its webhook deliveries."""
    return {
        **batch_progress(session, batch, database_now(session), state.usage.of(session, batch.id)),
        "deliveries": deliveries_of(session, batch.id),
    }


def job_page(session: Session, flt: JobFilter, paging: Paging) -> dict[str, Any]:
    found = find_jobs(session, flt, paging.page, paging.per_page)
    return {
        **_page(found.total, paging),
        "items": [with_urls(row) for row in job_rows(session, found.items)],
    }


def with_urls(row: dict[str, Any]) -> dict[str, Any]:
    """A job's view with the dashboard's download URL of each output."""
    outputs = [
        {**o, "url": output_url(row["batch_id"], row["id"], o["name"])} for o in row["outputs"]
    ]
    return {**row, "outputs": outputs}


def batch_buckets(session: Session, batch: Batch, buckets: int) -> list[Bucket]:
    end = (batch.finished_at or utcnow()) + timedelta(seconds=1)
    return activity(session, batch.created_at, end, buckets, batch.id)


def recent_buckets(session: Session, hours: float, buckets: int) -> list[Bucket]:
    end = utcnow()
    return activity(session, end - timedelta(hours=hours), end, buckets)


def bucket_view(bucket: Bucket) -> dict[str, Any]:
    return {
        "start": bucket.start.isoformat(),
        "end": bucket.end.isoformat(),
        "succeeded": bucket.succeeded,
        "failed": bucket.failed,
        "failed_attempts": bucket.failed_attempts,
    }


def limiter_state(state: DashboardState, session: Session, account: str) -> dict[str, Any]:
    """``account``'s limiter, each pool with the jobs live workers hold in it (the slots in use
    of an in-process limiter live in the workers, out of the dashboard's sight), and the names
    of the accounts to choose from."""
    from audiobatch.broker import queue_depths
    from audiobatch.deployment import limiter_view

    view = limiter_view(state.settings, account)
    in_hand = jobs_in_hand_by_pool(session, database_now(session))
    return {
        **view,
        "account": account,
        "accounts": sorted(state.settings.account_names()),
        "shared": state.settings.resolved_redis_url is not None,
        "pools": [{**pool, "jobs_in_hand": in_hand.get(pool["pool"], 0)} for pool in view["pools"]],
        "queues": queue_depths(state.celery)(),
    }


def _page(total: int, paging: Paging) -> dict[str, Any]:
    return {"total": total, "page": paging.page, "per_page": paging.per_page}
