"""Running one job: claim it, render it under a limiter slot, verify, and record the outcome in SQL."""

from __future__ import annotations

import logging
import random
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from audiobatch.accounts import DEFAULT_ACCOUNT, account_problem
from audiobatch.backend import Backend
from audiobatch.db import batches, claims, fencing, jobs, outputs
from audiobatch.db.models import Attempt, utcnow
from audiobatch.db.reconcile import Publish, end_batch
from audiobatch.db.session import patiently
from audiobatch.elevenlabs.account import read_subscription
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.elevenlabs.limits import AnswerLimits, SpeechRates
from audiobatch.elevenlabs.spool import AnswerSpool
from audiobatch.errors import (
    AccountError,
    AccountNameError,
    ApiError,
    AudiobatchError,
    ConcurrencyLimitError,
    InternalError,
    LimiterUnavailableError,
    StorageError,
)
from audiobatch.limiter import Limiter
from audiobatch.manifest.common import JobBase
from audiobatch.manifest.costs import text_characters
from audiobatch.render.accounts import AccountLines, ApiAccount
from audiobatch.render.context import CallInfo, RenderContext
from audiobatch.render.episode import as_episode, render_episode
from audiobatch.render.families import FAMILIES
from audiobatch.render.fingerprint import request_fingerprint
from audiobatch.render.kinds import parse_spec, render_job
from audiobatch.render.leases import LeaseKeeper, LeaseLostError
from audiobatch.render.provenance import note_rendered_by
from audiobatch.render.reuse import reuse_earlier_outputs
from audiobatch.retry import RetryPolicy, decide, uses_attempt
from audiobatch.storage import Storage

log = logging.getLogger(__name__)

QUOTA_EXCEEDED = "quota_exceeded"
UNREAD_RESET_RETRY_S = 3600.0


class WorkerStoppingError(AudiobatchError):
    """The worker is shutting down: a job that has not called the API yet goes back to the queue."""


class BatchPausedMeanwhileError(AudiobatchError):
    """The job's batch was paused (its budget spent, say) while the job waited for a slot: it
    went back as ``paused`` without calling the API."""


@dataclass
class Runtime:
    """Everything a worker process shares between the jobs it runs."""

    database_url: str
    storage: Storage
    client: ElevenLabsClient
    limiter: Limiter
    publish: Publish
    worker: str
    backend: Backend  # the API ``client`` talks to: part of every request's fingerprint
    lease_s: float = 60.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = utcnow
    stopping: threading.Event = field(default_factory=threading.Event)
    # where each job's API answer waits until its outputs are stored (see elevenlabs.spool)
    spool_root: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "audiobatch")
    # what this process does once it could not renew its leases for too long (see render.leases)
    on_leases_lost: Callable[[Runtime], None] = lambda rt: rt.stopping.set()
    limits: AnswerLimits = field(default_factory=AnswerLimits)  # caps on what an answer holds
    speech_rates: SpeechRates = field(default_factory=SpeechRates)  # how short is cut short
    # the buckets or bucket/prefixes S3 sources may name (None: any); local sources stay in
    # the folders recorded with their batch
    source_buckets: tuple[str, ...] | None = None
    continue_at_reset: bool = False  # batches that did not say go on at the quota's reset
    # the accounts other than the default (``client``, ``limiter`` and ``backend``); None: none
    other_accounts: AccountLines | None = None
    leases: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.leases = LeaseKeeper(
            self.database_url, self.worker, self.lease_s, self.clock,
            on_leases_lost=lambda: self.on_leases_lost(self),
        )  # fmt: skip

    def account(self, name: str) -> ApiAccount:
        """What the jobs of account ``name`` render with; :class:`AccountNameError` for an
        account this process does not know."""
        if name == DEFAULT_ACCOUNT:
            return ApiAccount(self.client, self.limiter, self.backend)
        if self.other_accounts is None:
            raise AccountNameError(account_problem(name, [DEFAULT_ACCOUNT]) or name)
        return self.other_accounts.get(name)

    def limiters(self) -> list[Limiter]:
        """Every account's limiter built so far (to free their slots on the way out)."""
        others = [] if self.other_accounts is None else self.other_accounts.built()
        return [self.limiter, *(account.limiter for account in others)]


def run_job(woken_for: int, rt: Runtime) -> None:
    """Render the job the wake-up of job ``woken_for`` claims: that job, or a more urgent or
    less served batch's job of its queue (see :mod:`audiobatch.db.claims`); a wake-up that
    finds nothing queued does nothing."""
    claim = patiently(
        rt.database_url,
        lambda s: claims.claim_next(s, woken_for, rt.worker, rt.lease_s, rt.clock()),
    )
    if claim is None:
        log.debug("wake-up of job %s: nothing queued in its queue, ignored", woken_for)
        return
    job_id = claim.job_id
    log.info("job %s (%s/%s): claimed by %s", job_id, claim.batch_name, claim.key, rt.worker)
    rt.leases.hold(job_id)
    try:
        _run_claimed(rt, claim)
    except Exception as exc:  # whatever escapes, the job must not stay running
        rt.leases.drop(job_id)
        log.exception("job %s: unexpected error", job_id)
        _fail_after_crash(rt, claim, exc)
    finally:
        rt.leases.drop(job_id)


def _fail_after_crash(rt: Runtime, claim: jobs.Claim, exc: Exception) -> None:
    """Fail a job that an unexpected exception stopped, with the exception's class and message
    on the job and on an attempt; if even that cannot be recorded, the job's lease runs out
    and the reconciler takes it back (its lease is no longer renewed)."""
    error = _internal_error(exc)
    now = rt.clock()

    def record_crash(session: Session) -> jobs.Finish:
        finish = jobs.fail(session, claim, rt.worker, str(error), INTERNAL_ERROR, now)
        if finish.won:  # still ours: it had not ended before the exception
            jobs.record_attempt(
                session,
                Attempt(
                    job_id=claim.job_id, batch_id=claim.batch_id, number=claim.attempts + 1,
                    worker=rt.worker, started_at=now, finished_at=now, outcome="failed",
                    error_code=INTERNAL_ERROR, error_message=str(error), latency_ms=0,
                ),
            )  # fmt: skip
        return finish

    try:
        finish = patiently(rt.database_url, record_crash)
        if finish.won:
            _after_finish(rt, claim, finish)
    except Exception:  # the lease runs out, or the reconciler ends the batch
        log.exception("job %s: its failure could not be recorded in full", claim.job_id)


INTERNAL_ERROR = "internal_error"


MAX_ERROR_CHARS = 2000


def _internal_error(exc: Exception) -> InternalError:
    return InternalError(f"internal error: {type(exc).__name__}: {str(exc)[:MAX_ERROR_CHARS]}")


def _run_claimed(rt: Runtime, claim: jobs.Claim) -> None:
    """Render, and keep the API's answer in the spool only while a later attempt may replay it."""
    spool = AnswerSpool(rt.spool_root / f"{claim.batch_id}-{claim.job_id}")
    if not _render_claimed(rt, claim, spool):
        spool.discard()


def _render_claimed(rt: Runtime, claim: jobs.Claim, spool: AnswerSpool) -> bool:
    """Render the claimed job; True when another attempt will still want the API's answer: its
    outputs could not be stored, or the job was taken back (a lost lease) before its outcome was
    recorded. The spool replays the answer only if it came whole."""
    with ExitStack() as slot_until_recorded:
        return _render_holding(rt, claim, spool, slot_until_recorded)


def _render_holding(
    rt: Runtime, claim: jobs.Claim, spool: AnswerSpool, slot_until_recorded: ExitStack
) -> bool:
    job_id = claim.job_id
    try:
        api = rt.account(claim.account)
    except AccountNameError as exc:
        _pause_for_account(rt, claim, None, rt.clock(), time.monotonic(), exc)
        return False
    ctx = RenderContext(
        client=api.client.spooled(spool),
        storage=rt.storage,
        prefix=jobs.output_prefix(claim.batch_name, claim.batch_id, claim.key, claim.take),
        heartbeat=lambda: rt.leases.check(job_id),
        parent_artifacts=lambda key: _artifacts_of(rt, claim.batch_id, key),
        limits=rt.limits,
        speech_rates=rt.speech_rates,
        source_roots=tuple(Path(root) for root in claim.source_roots),
        source_buckets=rt.source_buckets,
        fence=lambda action: fencing.while_leased(rt.database_url, job_id, rt.worker, action),
    )
    if claim.take > 1:
        ctx.notes.append(f"take {claim.take}")
    started_at, started = rt.clock(), time.monotonic()
    job, episode, request, cached_from, error = None, None, None, None, None
    try:
        job = parse_spec(claim.spec)
        episode = as_episode(job)
        if episode is None:  # stitching costs no generation: an episode is stitched anew
            request = request_fingerprint(claim.kind, claim.spec, job, ctx, api.backend)
            if not claim.fresh:
                cached_from = reuse_earlier_outputs(rt.database_url, rt.storage, ctx, request)
    except AudiobatchError as exc:
        error = exc
    if job is not None and error is None and cached_from is None:
        if episode is not None:
            stitched = episode
            error = _render(claim, lambda: render_episode(stitched, ctx))
        else:
            try:
                error = _call_api(rt, api.limiter, claim, job, ctx, slot_until_recorded)
            except WorkerStoppingError:
                patiently(rt.database_url, lambda s: jobs.release(s, job_id, rt.worker))
                log.info("job %s: worker stopping, job handed back before its API call", job_id)
                return False
            except BatchPausedMeanwhileError:
                log.info("job %s: its batch was paused while it waited; no API call", job_id)
                return False
    if error is None:
        error = _verify(rt, ctx)
    if isinstance(error, LeaseLostError):
        log.warning("job %s: lease lost to another worker; abandoning this attempt", job_id)
        _record(rt, claim, ctx, started_at, started, "abandoned", None)
        return True
    if error is not None:
        retried = _on_error(rt, claim, ctx, started_at, started, error)
        return retried and isinstance(error, StorageError)

    def record_success(session: Session) -> jobs.Finish:
        finish = jobs.succeed(
            session, claim, rt.worker, ctx.outputs, rt.clock(), request, cached_from, ctx.loudness
        )
        if cached_from is None:  # a commit that lost the lease leaves an abandoned attempt
            outcome = "succeeded" if finish.won else "abandoned"
            attempt = _attempt(rt, claim, ctx, started_at, started, outcome, None)
            _record_attempt(session, claim, attempt)
        if finish.won:
            note_rendered_by(session, claim.batch_id, api.backend, ctx.call, cached_from)
        return finish

    finish = patiently(rt.database_url, record_success)
    if not finish.won:
        log.warning("job %s: taken back (lease lost) before its success was recorded", job_id)
        return True
    how = f"reused the outputs of job {cached_from}" if cached_from else "rendered"
    log.info("job %s: succeeded (%s) with %d outputs", job_id, how, len(ctx.outputs))
    _after_finish(rt, claim, finish)
    return False


def _call_api(
    rt: Runtime,
    limiter: Limiter,
    claim: jobs.Claim,
    job: JobBase,
    ctx: RenderContext,
    slot_until_recorded: ExitStack,
) -> AudiobatchError | None:
    """Render under a slot of the account's ``limiter`` and feed it the answer; the error, if
    any.

    The slot covers the API exchange: the claim is made before it, and the stored answer is
    finished, verified and recorded after the slot is given back, except in a batch with a
    character budget, whose slot is held (in ``slot_until_recorded``) until the outcome and its
    cost are recorded, so that the next request of the batch is sent knowing what this one spent.
    Raises WorkerStoppingError when the worker stops before the request is sent, and
    BatchPausedMeanwhileError when a batch with a budget was paused (its budget spent) while the
    job waited for its slot. Other batches are not read again: that read would sit inside every
    slot, and a job claimed before its batch paused is running, and finishes as running jobs do.
    """
    pool = FAMILIES[claim.kind].pool

    def wait_for_slot() -> None:
        ctx.heartbeat()
        if rt.stopping.is_set():
            raise WorkerStoppingError("the worker is shutting down")

    def withdraw_if_paused() -> None:
        if patiently(
            rt.database_url,
            lambda s: jobs.withdraw_if_batch_paused(s, claim.job_id, claim.batch_id, rt.worker),
        ):
            raise BatchPausedMeanwhileError(f"batch {claim.batch_id} was paused")

    try:
        wait_for_slot()
        release = slot_until_recorded.enter_context(limiter.slot(pool, while_waiting=wait_for_slot))
        wait_for_slot()  # a stop that began while waiting sends no new request
        if claim.character_budget is None:
            ctx.answer_received = release
        else:
            withdraw_if_paused()  # nor does a budget spent by the jobs that had the slots
        error = _render(claim, lambda: render_job(claim.kind, job, ctx))
        if claim.character_budget is None:
            release()
    except (LeaseLostError, LimiterUnavailableError) as stopped:
        return stopped
    try:
        if isinstance(error, ConcurrencyLimitError):
            limiter.throttled(pool)
        elif error is None and ctx.call is not None:
            limiter.succeeded(pool, ctx.call.max_concurrency)
    except LimiterUnavailableError as exc:  # the window waits; the answer must not
        log.warning("job %s: limiter window not adjusted: %s", claim.job_id, exc)
    return error


def _render(claim: jobs.Claim, renderer: Callable[[], None]) -> AudiobatchError | None:
    """Render (call the API and store its answer, or stitch an episode's parts); the error that
    stopped it, if one did."""
    try:
        renderer()
    except AudiobatchError as error:
        return error
    except Exception as exc:  # a bug must fail the job, not loop it through lease expiry
        log.exception("job %s: unexpected error", claim.job_id)
        return _internal_error(exc)
    return None


def _verify(rt: Runtime, ctx: RenderContext) -> AudiobatchError | None:
    """Read every stored output back; the integrity or storage error, if any."""
    try:
        for _name, stored in ctx.outputs:
            rt.storage.verify(stored)
    except AudiobatchError as error:
        return error
    return None


def _on_error(
    rt: Runtime,
    claim: jobs.Claim,
    ctx: RenderContext,
    started_at: datetime,
    started: float,
    error: AudiobatchError,
) -> bool:
    """Record the failed attempt and retry, fail or pause the job; True when it will retry."""
    if isinstance(error, AccountError):
        _pause_for_account(rt, claim, ctx, started_at, started, error)
        return False
    decision = decide(error, claim.attempts + 1, rt.policy.for_kind(claim.kind), rt.rng)
    message = str(error)
    code = error.code if isinstance(error, ApiError) else None
    now = rt.clock()

    def record_failure(session: Session) -> jobs.Finish | None:
        outcome = "retry" if decision.retry else "failed"
        attempt = _attempt(rt, claim, ctx, started_at, started, outcome, error)
        _record_attempt(session, claim, attempt, counted=uses_attempt(error))
        if not decision.retry:
            return jobs.fail(session, claim, rt.worker, message, code, now)
        due = now + timedelta(seconds=decision.delay_s)
        jobs.retry_later(session, claim.job_id, rt.worker, message, code, due)
        return None

    finish = patiently(rt.database_url, record_failure)
    if finish is None:
        log.info(
            "job %s: %s; retry in %.1f s (%s)",
            claim.job_id,
            message,
            decision.delay_s,
            decision.reason,
        )
        return True
    log.warning("job %s: failed: %s", claim.job_id, message)
    _after_finish(rt, claim, finish)
    return False


RESUME = "resume the batch (`audiobatch resume` with its id or name)"


def _pause_for_account(
    rt: Runtime,
    claim: jobs.Claim,
    ctx: RenderContext | None,
    started_at: datetime,
    started: float,
    error: AccountError | AccountNameError,
) -> None:
    """Park the account's work until an operator resumes it; this attempt does not count. An
    account this worker does not know (``ctx`` None: nothing was sent) pauses its batches too."""
    said = str(error).rstrip(". ")  # the reason goes on after it
    if isinstance(error, AccountNameError):
        reason = f"{said}; register its key, then {RESUME}"
        code: str | None = UNKNOWN_ACCOUNT
        reset = None
    else:
        reason = (
            f"the API refused account {claim.account!r} ({error.code or error.status}): "
            f"{said}; fix the key or its quota, then {RESUME}"
        )
        code, reset = error.code, _quota_reset(rt, claim.account, error)

    def record_pause(session: Session) -> int:
        if ctx is not None:
            attempt = _attempt(rt, claim, ctx, started_at, started, "paused", error)
            _record_attempt(session, claim, attempt, counted=False)
        return batches.pause_for_account(
            session, claim.job_id, rt.worker, claim.account, reason, code, reset
        )

    paused = patiently(rt.database_url, record_pause)
    log.error("job %s: %s (%d batches paused)", claim.job_id, reason, paused)


UNKNOWN_ACCOUNT = "unknown_account"


def _quota_reset(rt: Runtime, account: str, error: AccountError) -> batches.QuotaReset | None:
    """When the account's quota starts again, for the batches that continue then; None when the
    refusal is not about the quota. An account that cannot be read, or whose reset this host's
    clock has already passed (the clocks disagree, or the answer is stale: continuing at once
    would be refused again at every tick), is asked again an hour on (the batch resumes then,
    and pauses again if the quota is still spent)."""
    if error.code != QUOTA_EXCEEDED:
        return None
    now = rt.clock()
    try:
        at = read_subscription(rt.account(account).client).next_reset_at
    except AudiobatchError as exc:
        log.warning("the account's next quota reset could not be read: %s", exc)
        at = None
    if at is not None and at <= now:
        log.warning("the account's next quota reset, %s, has passed here", at.isoformat())
        at = None
    if at is None:
        at = now + timedelta(seconds=UNREAD_RESET_RETRY_S)
    return batches.QuotaReset(at, rt.continue_at_reset)


def _after_finish(rt: Runtime, claim: jobs.Claim, finish: jobs.Finish) -> None:
    """Announce the dependants the job unblocked; end its batch if it was the last to finish."""
    if finish.queued:
        rt.publish(finish.queued)
    for key in finish.superseded:  # the take before, no longer committed: its files may go
        try:
            rt.storage.delete(key)
        except StorageError as exc:
            log.warning("job %s: the earlier take's %s stays stored: %s", claim.job_id, key, exc)
    if finish.won:
        end_batch(rt.database_url, rt.storage, claim.batch_id, rt.clock())


def _record(
    rt: Runtime,
    claim: jobs.Claim,
    ctx: RenderContext,
    started_at: datetime,
    started: float,
    outcome: str,
    error: AudiobatchError | None,
) -> None:
    def record(session: Session) -> None:
        _record_attempt(
            session, claim, _attempt(rt, claim, ctx, started_at, started, outcome, error)
        )

    patiently(rt.database_url, record)


def _record_attempt(
    session: Session, claim: jobs.Claim, attempt: Attempt, *, counted: bool = True
) -> None:
    """Store the attempt; one that cost characters may spend the batch's budget and pause it."""
    jobs.record_attempt(session, attempt, counted=counted)
    if claim.character_budget is not None and attempt.character_cost:
        batches.pause_over_budget(session, claim.batch_id)


def _attempt(
    rt: Runtime,
    claim: jobs.Claim,
    ctx: RenderContext,
    started_at: datetime,
    started: float,
    outcome: str,
    error: AudiobatchError | None,
) -> Attempt:
    api = error if isinstance(error, ApiError) else None
    call = ctx.call
    return Attempt(
        job_id=claim.job_id,
        batch_id=claim.batch_id,
        number=claim.attempts + 1,
        worker=rt.worker,
        started_at=started_at,
        finished_at=rt.clock(),
        outcome=outcome,
        http_status=call.http_status if call else (api.status if api else None),
        error_code=api.code if api else None,
        error_message=str(error) if error else ("; ".join(ctx.notes) or None),
        request_id=call.request_id if call else (api.request_id if api else None),
        latency_ms=int((time.monotonic() - started) * 1000),
        character_cost=_characters(claim, call),
    )


def _characters(claim: jobs.Claim, call: CallInfo | None) -> int | None:
    """What the call cost: the API's ``character-cost`` where it sent one, else the characters
    of the job's text; None when the API never answered."""
    if call is None:
        return None
    if call.character_cost is not None:
        return call.character_cost
    return text_characters(claim.kind, claim.spec) or None


def _artifacts_of(rt: Runtime, batch_id: str, key: str) -> list[outputs.StoredArtifact]:
    return patiently(rt.database_url, lambda session: outputs.artifacts_of(session, batch_id, key))
