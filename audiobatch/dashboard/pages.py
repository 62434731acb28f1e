"""The pages: server-rendered with Jinja2 (autoescaped), over the same reads as the JSON API.

Live updates are polling: ``static/dashboard.js`` asks the JSON API every few seconds and
updates the counts, progress bars and statuses in place.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.dashboard.api import (
    AccountQuery,
    batch_buckets,
    batch_detail,
    job_page,
    limiter_state,
    recent_buckets,
    with_urls,
)
from audiobatch.dashboard.auth import (
    SESSION_COOKIE,
    RoleDep,
    SameSite,
    csrf_token,
    is_https,
    token_digest,
    token_matches,
)
from audiobatch.dashboard.chart import chart
from audiobatch.dashboard.display import FILTERS
from audiobatch.dashboard.filters import BatchFilterDep, JobFilterDep, JobId, PagingDep
from audiobatch.dashboard.guard import client_address
from audiobatch.dashboard.state import SessionDep, StateDep
from audiobatch.db.clock import database_now
from audiobatch.db.listings import (
    batch_summaries,
    error_codes,
    find_batches,
    find_job,
    find_parts,
    job_detail,
    job_rows,
)
from audiobatch.db.logins import end_login, open_login
from audiobatch.db.models import (
    TERMINAL_BATCH_STATUSES,
    BatchStatus,
    JobStatus,
    OverlapPolicy,
    utcnow,
)
from audiobatch.db.reports import find_batch
from audiobatch.db.schedules import list_schedules, schedule_view
from audiobatch.db.session import session_scope
from audiobatch.db.workers import ago, fleet_view, unserved_queues
from audiobatch.errors import (
    ManifestError,
    OperatorRequiredError,
    ScheduleError,
    ScheduleFieldError,
    TooManyAttemptsError,
)
from audiobatch.manifest import KINDS

router = APIRouter(include_in_schema=False)

_env = Environment(
    loader=PackageLoader("audiobatch.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
_env.filters.update(FILTERS)


def with_page(query: QueryParams, page: int) -> str:
    """The query string of the same list at another page."""
    kept = [(k, v) for k, v in query.multi_items() if k not in ("page", "notice")]
    return urlencode([*kept, ("page", str(page))])


_env.globals.update(
    with_page=with_page,
    OVERLAP_POLICIES=[p.value for p in OverlapPolicy],
    BATCH_STATUSES=[s.value for s in BatchStatus],
    JOB_STATUSES=[s.value for s in JobStatus],
    KINDS=list(KINDS),
)


def render(
    request: Request,
    role: str,
    template: str,
    status_code: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page, with what every page shows: the viewer's role, the CSRF token of its forms, the
    notice an action left, and (but on error pages, which may be about the database) the queues
    that jobs wait on with no live worker serving them, read in the page's ``session`` where it
    has one (a second one would wait on its lock: SQLite takes one writer at a time)."""
    state = request.app.state.dashboard
    unserved = []
    if status_code < 400 and session is not None:
        unserved = unserved_queues(session, None, database_now(session))
    elif status_code < 400:
        with session_scope(state.database_url) as own:
            unserved = unserved_queues(own, None, database_now(own))
    page = _env.get_template(template).render(
        request=request,
        role=role,
        token_required=state.settings.dashboard_token is not None,
        csrf_token=csrf_token(request),
        notice=request.query_params.get("notice"),
        here=str(request.url.path),
        query=request.query_params,
        unserved_queues=unserved,
        zone=state.settings.zone,
        now=utcnow(),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def batches_page(
    request: Request,
    role: RoleDep,
    session: SessionDep,
    state: StateDep,
    flt: BatchFilterDep,
    paging: PagingDep,
) -> HTMLResponse:
    found = find_batches(session, flt, paging.page, paging.per_page)
    return render(
        request, role, "batches.html", session=session,
        batches=batch_summaries(session, found.items), total=found.total, paging=paging,
        flt=flt, chart=chart(recent_buckets(session, 24, 48), state.settings.zone),
    )  # fmt: skip


@router.get("/batches/{batch}", response_class=HTMLResponse)
def batch_page(
    batch: str,
    request: Request,
    role: RoleDep,
    session: SessionDep,
    state: StateDep,
    flt: JobFilterDep,
    paging: PagingDep,
) -> HTMLResponse:
    found = find_batch(session, batch)
    # unfiltered, parts fold under their episode; filtered, a matching part is listed itself
    filtered = bool(flt.statuses or flt.kinds or flt.error_codes)
    jobs = job_page(session, replace(flt, batch_id=found.id, parts=filtered), paging)
    return render(
        request, role, "batch.html", session=session,
        batch=batch_detail(session, state, found), jobs=jobs, flt=flt, paging=paging,
        parts={} if filtered else parts_by_episode(session, jobs["items"]),
        errors=error_codes(session, found.id), chart=chart(batch_buckets(session, found, 40), state.settings.zone),
        ended=found.status in TERMINAL_BATCH_STATUSES,
    )  # fmt: skip


def parts_by_episode(session: Session, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The parts of the episodes among ``rows``, by the episode's key, to fold under it."""
    episodes = [row["job_id"] for row in rows if row["parts"]]
    folded: dict[str, list[Any]] = {}
    for part in job_rows(session, find_parts(session, episodes)):
        folded.setdefault(part["part_of"], []).append(with_urls(part))
    return folded


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page_(job_id: JobId, request: Request, role: RoleDep, session: SessionDep) -> HTMLResponse:
    found = find_job(session, job_id)
    job = with_urls(job_detail(session, found))
    parts = job_rows(session, find_parts(session, [found.id])) if job["parts"] else []
    return render(request, role, "job.html", session=session, job=job, parts=parts)


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, role: RoleDep, session: SessionDep) -> HTMLResponse:
    return schedules_response(request, role, session)


def schedules_response(
    request: Request,
    role: str,
    session: Session,
    *,
    form: BaseModel | None = None,
    refused: ScheduleError | ManifestError | None = None,
) -> HTMLResponse:
    """The schedules page; after a refused ``form``, with its values and, beside each field,
    what was wrong with it (422)."""
    views = [schedule_view(session, s) for s in list_schedules(session)]
    return render(
        request, role, "schedules.html", 200 if refused is None else 422, session=session,
        schedules=views, form=form.model_dump() if form else {}, errors=_field_errors(refused),
    )  # fmt: skip


def _field_errors(refused: ScheduleError | ManifestError | None) -> dict[str, list[str]]:
    """The messages of a refusal by the form field they concern (``""``: the form as a whole)."""
    if refused is None:
        return {}
    if isinstance(refused, ManifestError):
        return {"manifest": [str(problem) for problem in refused.problems]}
    return {refused.field if isinstance(refused, ScheduleFieldError) else "": [str(refused)]}


@router.get("/limiter", response_class=HTMLResponse)
def limiter_page(
    request: Request,
    role: RoleDep,
    state: StateDep,
    session: SessionDep,
    account: AccountQuery = DEFAULT_ACCOUNT,
) -> HTMLResponse:
    limiter = limiter_state(state, session, account)
    return render(request, role, "limiter.html", session=session, limiter=limiter)


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, role: RoleDep, session: SessionDep) -> HTMLResponse:
    now = database_now(session)
    rows = [
        {**row, "seen": ago((now - datetime.fromisoformat(row["last_seen_at"])).total_seconds())}
        for row in fleet_view(session, now)
    ]
    return render(request, role, "workers.html", session=session, workers=rows)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, role: RoleDep) -> HTMLResponse:
    return render(request, role, "login.html")


@router.post("/login", dependencies=[SameSite])
def login(
    token: Annotated[str, Form()], request: Request, state: StateDep, session: SessionDep
) -> Response:
    """Become an operator in this browser: the token is checked, and a new session opened whose
    random id is kept in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) until logout or
    ``AUDIOBATCH_DASHBOARD_SESSION_S``. Too many wrong tokens from one address are refused."""
    expected = state.settings.dashboard_token
    if expected is None:
        return RedirectResponse("/?notice=no+token+is+set%3A+everyone+is+an+operator", 303)
    client = client_address(request)
    wait_s = state.throttle.retry_after_s(client)
    if wait_s is not None:
        raise TooManyAttemptsError(wait_s)
    if not token_matches(token, expected):
        state.throttle.failed(client)
        raise OperatorRequiredError("wrong token")
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        end_login(session, previous)  # a new id at every login
    lifetime_s = state.settings.dashboard_session_s
    cookie = open_login(session, token_digest(expected), utcnow(), lifetime_s)
    response = RedirectResponse("/?notice=logged+in+as+operator", 303)
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=int(lifetime_s), httponly=True, samesite="strict",
        secure=is_https(request),
    )  # fmt: skip
    return response


@router.post("/logout", dependencies=[SameSite])
def logout(request: Request, session: SessionDep) -> Response:
    """End this browser's session, here and in the database."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_login(session, cookie)
    response = RedirectResponse("/?notice=logged+out", 303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response
