"""Write actions: retry failed jobs (a batch's, or one), retake an episode's part, cancel, resume, tag a batch or take a
tag off, run a schedule now, add, pause, resume or remove a schedule, submit a manifest or a
bundle by upload. POST only, each guarded by :func:`~audiobatch.dashboard.auth.require_operator`.

A JSON client gets an :class:`~audiobatch.dashboard.schemas.ActionResult`; a page's form adds
``?next=/path`` and is sent back there with the result as a notice (a schedule the form could not
add comes back as the schedules page, each message beside its field).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from audiobatch import control
from audiobatch.accounts import DEFAULT_ACCOUNT, with_account
from audiobatch.dashboard import pages
from audiobatch.dashboard.auth import Operator, RoleDep
from audiobatch.dashboard.filters import JobId
from audiobatch.dashboard.schemas import ActionResult, ScheduleForm
from audiobatch.dashboard.state import DashboardState, StateDep
from audiobatch.dashboard.uploads import MAX_MANIFEST_BYTES, read_upload
from audiobatch.db.clock import database_clock
from audiobatch.db.idempotency import MAX_KEY_CHARS, Idempotency
from audiobatch.db.listings import find_job
from audiobatch.db.reports import find_batch
from audiobatch.db.session import session_scope
from audiobatch.db.tags import add_tags, remove_tag
from audiobatch.errors import (
    AccountNameError,
    ManifestError,
    NotFoundError,
    PriorityError,
    Problem,
    ScheduleError,
)
from audiobatch.priorities import with_priority
from audiobatch.scheduler import editing
from audiobatch.scheduler.editing import ScheduleRequest
from audiobatch.scheduler.firing import fire_now
from audiobatch.submission import submit_manifests

router = APIRouter(prefix="/api", tags=["actions"], dependencies=[Operator])

Next = Annotated[
    str | None, Query(description="A page of the dashboard to go back to (forms), e.g. /batches/ID")
]


@router.post("/batches/{batch}/retry", response_model=ActionResult)
def retry_batch(batch: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Queue every failed job of the batch again (jobs that failed with them wait again)."""
    done = control.retry(state.database_url, state.publish, batch)
    message = f"{done.jobs} failed job(s) of {done.batch_name} queued again"
    return _acted("retry", done, message, next)


@router.post("/jobs/{job_id}/retry", response_model=ActionResult)
def retry_job(job_id: JobId, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Queue one failed job again."""
    with session_scope(state.database_url) as session:
        job = find_job(session, job_id)
        batch_id, key = job.batch_id, job.key
    done = control.retry(state.database_url, state.publish, batch_id, job_key=key)
    message = f"job {key} of {done.batch_name} queued again"
    return _acted("retry", done, message, next)


@router.post("/jobs/{job_id}/retake", response_model=ActionResult)
def retake_part(
    job_id: JobId,
    state: StateDep,
    seed: Annotated[
        int | None, Query(ge=0, le=2**32 - 1, description="The new take's seed (else a new one).")
    ] = None,
    next: Next = None,
) -> Response | ActionResult:
    """Render an episode's part again with a new seed, then stitch the episode again; 422 for a
    job that is no part of an episode, or an episode still rendering."""
    with session_scope(state.database_url) as session:
        job = find_job(session, job_id)
        batch_id, key = job.batch_id, job.key
    done = control.retake_part(state.database_url, state.publish, batch_id, part=key, seed=seed)
    [(part, new_seed)] = done.seeds.items()
    message = (
        f"{part} of {done.batch_name} taken again (seed {new_seed}); {done.episode} stitches after"
    )
    result = ActionResult(action="retake", batch_id=done.batch_id, jobs=2, message=message)
    return _reply(result, next)


@router.post("/batches/{batch}/cancel", response_model=ActionResult)
def cancel_batch(
    batch: str,
    state: StateDep,
    abandon: Annotated[bool, Query(description="Cancel running jobs too.")] = False,
    next: Next = None,
) -> Response | ActionResult:
    """Cancel every job that has not started (running ones finish, unless ``abandon``)."""
    done = control.cancel(state.database_url, state.storage, batch, abandon=abandon)
    still = "" if done.ended else "; the batch ends when the jobs running now finish"
    message = f"{done.jobs} job(s) of {done.batch_name} cancelled{still}"
    return _acted("cancel", done, message, next)


@router.post("/batches/{batch}/resume", response_model=ActionResult)
def resume_batch(batch: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Queue the paused jobs of a paused batch again."""
    done = control.resume(state.database_url, state.publish, batch)
    message = f"{done.jobs} job(s) of {done.batch_name} resumed"
    return _acted("resume", done, message, next)


@router.post("/batches/{batch}/tags", response_model=ActionResult)
def tag_batch(
    batch: str,
    tag: Annotated[str, Form(description="The tag to put on the batch.")],
    state: StateDep,
    next: Next = None,
) -> Response | ActionResult:
    """Put a tag on the batch; 422 for a tag that is no tag, or one too many."""
    with session_scope(state.database_url) as session:
        found = find_batch(session, batch)
        carried = add_tags(session, found.id, [tag])
        message = f"batch {found.name} tagged {tag}: {', '.join(carried)}"
        result = ActionResult(action="tag", batch_id=found.id, jobs=0, message=message)
    return _reply(result, next)


@router.post("/batches/{batch}/tags/{tag}/remove", response_model=ActionResult)
def untag_batch(
    batch: str, tag: str, state: StateDep, next: Next = None
) -> Response | ActionResult:
    """Take a tag off the batch; 404 when it does not carry it."""
    with session_scope(state.database_url) as session:
        found = find_batch(session, batch)
        if not remove_tag(session, found.id, tag):
            raise NotFoundError(f"batch {found.name} carries no tag {tag!r}")
        message = f"tag {tag} taken off batch {found.name}"
        result = ActionResult(action="untag", batch_id=found.id, jobs=0, message=message)
    return _reply(result, next)


@router.post("/schedules/{name}/run", response_model=ActionResult)
def run_schedule(name: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Fire the schedule now, outside its slots (its overlap policy applies)."""
    fired = fire_now(
        state.database_url, state.publish, name, database_clock(state.database_url)(),
        part_chars=state.settings.part_chars,
        sources=state.settings.source_policy(),
        accounts=state.settings.account_names(),
    )  # fmt: skip
    why = f": {fired.reason}" if fired.reason else ""
    batch = f", batch {fired.batch_id}" if fired.batch_id else ""
    message = f"schedule {name}: {fired.outcome.value}{batch}{why}"
    return _reply(
        ActionResult(action="run", batch_id=fired.batch_id, jobs=0, message=message), next
    )


@router.post("/schedules", response_model=ActionResult, status_code=201)
def add_schedule(
    request: Request,
    role: RoleDep,
    form: Annotated[ScheduleForm, Form()],
    state: StateDep,
    next: Next = None,
) -> Response | ActionResult:
    """Add a schedule, as `audiobatch schedule add` does; a value that cannot be used is 422
    with the ``field`` at fault (a name already taken, 409)."""
    try:
        new = editing.add_schedule(
            state.database_url, ScheduleRequest(**form.model_dump()),
            database_clock(state.database_url)(),
            part_chars=state.settings.part_chars, sources=state.settings.source_policy(),
            confined_to=state.settings.source_policy(uploaded=True).roots_for(Path.cwd()),
            accounts=state.settings.account_names(),
        )  # fmt: skip
    except (ScheduleError, ManifestError) as exc:
        if next is None:
            raise
        with session_scope(state.database_url) as session:
            return pages.schedules_response(request, role, session, form=form, refused=exc)
    first = new.next_slot_at.isoformat()
    message = f"schedule {new.name} added: {new.cron} ({new.timezone}), first run {first}"
    return _reply(ActionResult(action="add", batch_id=None, jobs=0, message=message), next)


@router.post("/schedules/{name}/pause", response_model=ActionResult)
def pause_schedule(name: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Stop firing the schedule until it is resumed."""
    editing.set_enabled(state.database_url, name, False, database_clock(state.database_url)())
    result = ActionResult(action="pause", batch_id=None, jobs=0, message=f"schedule {name} paused")
    return _reply(result, next)


@router.post("/schedules/{name}/resume", response_model=ActionResult)
def resume_schedule(name: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Fire a paused schedule again, from its next slot on (missed slots are not run)."""
    toggled = editing.set_enabled(
        state.database_url, name, True, database_clock(state.database_url)()
    )
    message = f"schedule {name} resumed; next run {toggled.next_slot_at.isoformat()}"
    return _reply(ActionResult(action="resume", batch_id=None, jobs=0, message=message), next)


@router.post("/schedules/{name}/remove", response_model=ActionResult)
def remove_schedule(name: str, state: StateDep, next: Next = None) -> Response | ActionResult:
    """Delete the schedule and its firing history; its batches stay."""
    editing.remove_schedule(state.database_url, name)
    message = f"schedule {name} removed"
    return _reply(ActionResult(action="remove", batch_id=None, jobs=0, message=message), next)


@router.post(
    "/batches",
    response_model=ActionResult,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "description": "A JSON manifest as the whole body (its options in the query: "
                    "fresh, force, priority, account).",
                }
            }
        }
    },
)
async def submit(
    request: Request,
    state: StateDep,
    answer: Response,
    manifest: Annotated[
        UploadFile | None,
        File(
            description="A manifest (YAML, JSON, JSONL or CSV) whose sources are S3 objects or "
            "other jobs, or a bundle: a .zip of the manifest and the audio files it names. "
            "Or send a JSON manifest as the body (Content-Type: application/json)."
        ),
    ] = None,
    fresh: Annotated[bool, Form(description="Generate every job anew.")] = False,
    force: Annotated[bool, Form(description="A new batch even if this one is active.")] = False,
    priority: Annotated[
        str | None,
        Form(
            description="urgent, normal, bulk or a number from 0 to 100, higher first, instead "
            "of the manifest's: workers take the most urgent batch's jobs first."
        ),
    ] = None,
    account: Annotated[
        str | None,
        Form(
            description="A registered account's name, instead of the manifest's: its API key "
            "renders the batch (an unknown account is 422)."
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_CHARS,
            description="Any unique string (a UUID): the same key sent again with the same "
            "manifest and options answers 200 with the batch the first request made, and writes "
            "nothing; with another manifest or options, 422.",
        ),
    ] = None,
    next: Next = None,
) -> Response | ActionResult:
    """Validate a manifest (uploaded, or a JSON body) or a bundle and queue it as a batch; 422
    lists every problem."""
    if manifest is not None:
        stream, filename = manifest.file, manifest.filename
    elif _is_json(request):
        stream, filename = io.BytesIO(await _limited_body(request)), "manifest.json"
        try:
            options = JsonSubmission.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        fresh, force, priority = options.fresh, options.force, options.priority
        account = options.account
    else:
        raise ManifestError(
            [Problem("request", None, "manifest", "send the manifest as the multipart field "
                     "`manifest`, or a JSON manifest as the body (Content-Type: application/json)")]
        )  # fmt: skip
    return await run_in_threadpool(
        _submit,
        state,
        answer,
        stream,
        filename,
        Choices(fresh=fresh, force=force, priority=priority, account=account),
        idempotency_key,
        next,
    )


class JsonSubmission(BaseModel):
    """The options of a JSON manifest sent as the body, from the query string."""

    fresh: bool = False
    force: bool = False
    priority: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class Choices:
    """What a submission asks besides its manifest."""

    fresh: bool
    force: bool
    priority: str | None
    account: str | None


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


async def _limited_body(request: Request) -> bytes:
    """The body, refused past the largest manifest read (before it is all in memory)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_MANIFEST_BYTES:
            raise ManifestError([Problem("manifest.json", None, "", "larger than 64 MiB")])
    return bytes(body)


def _submit(
    state: DashboardState,
    answer: Response,
    stream: IO[bytes],
    filename: str | None,
    choices: Choices,
    idempotency_key: str | None,
    next: str | None,
) -> Response | ActionResult:
    uploaded = read_upload(stream, filename, state.settings)
    fresh, force, priority = choices.fresh, choices.force, choices.priority
    try:
        chosen = with_account(
            with_priority(uploaded.manifest, priority),
            choices.account,
            state.settings.account_names(),
        )
    except (PriorityError, AccountNameError):
        uploaded.discard()
        raise
    idempotency = None
    if idempotency_key is not None:
        asked = f"{uploaded.manifest.sha256} fresh={fresh} force={force} priority={priority}"
        if chosen.account != DEFAULT_ACCOUNT:  # keys recorded before accounts still match
            asked += f" account={chosen.account}"
        idempotency = Idempotency(idempotency_key, hashlib.sha256(asked.encode()).hexdigest())
    kept = False
    try:
        [batch] = submit_manifests(
            state.database_url, [chosen], state.publish,
            fresh=fresh, force=force, idempotency=idempotency,
        )  # fmt: skip
        kept = not batch.existing  # an existing batch reads its own bundle
    finally:
        if not kept:
            uploaded.discard()
    if batch.existing:
        answer.status_code = 200
    verb = "was submitted earlier" if batch.existing else "queued"
    message = f"batch {batch.name} [{batch.id}] {verb}: {batch.jobs} job(s)"
    result = ActionResult(action="submit", batch_id=batch.id, jobs=batch.jobs, message=message)
    return _reply(result, next if next is None else f"/batches/{batch.id}")


def _acted(
    action: str, done: control.Outcome, message: str, next: str | None
) -> Response | ActionResult:
    result = ActionResult(action=action, batch_id=done.batch_id, jobs=done.jobs, message=message)
    return _reply(result, next)


def _reply(result: ActionResult, next: str | None) -> Response | ActionResult:
    if next is None:
        return result
    if not next.startswith("/") or next.startswith("//") or "\\" in next:
        next = "/"  # only a page of this dashboard (browsers read /\x as //x)
    separator = "&" if "?" in next else "?"
    return RedirectResponse(f"{next}{separator}{urlencode({'notice': result.message})}", 303)
