"""Operator actions on a batch, as the CLI and the dashboard take them: the change in SQL, then
the wake-ups it calls for (or, for a cancel, the batch's end and its ``results.json``)."""

from __future__ import annotations

from dataclasses import dataclass

from audiobatch.db import operations
from audiobatch.db.clock import database_clock
from audiobatch.db.models import TERMINAL_BATCH_STATUSES
from audiobatch.db.reconcile import Publish, end_batch, publish_queued
from audiobatch.db.reports import find_batch
from audiobatch.db.session import session_scope
from audiobatch.storage import Storage


@dataclass(frozen=True)
class Outcome:
    """What an action did to a batch: how many jobs it changed, and whether the batch has ended
    (by this action or before it)."""

    batch_id: str
    batch_name: str
    jobs: int
    ended: bool = False


def retry(
    database_url: str,
    publish: Publish,
    ref: str,
    *,
    job_key: str | None = None,
) -> Outcome:
    """Queue the failed jobs of batch ``ref`` (or its failed job ``job_key``) again."""
    with session_scope(database_url) as session:
        batch = find_batch(session, ref)
        count = operations.retry_failed(session, batch, job_key)
        outcome = Outcome(batch.id, batch.name, count)
    publish_queued(database_url, publish, database_clock(database_url)())
    return outcome


def retake(
    database_url: str,
    publish: Publish,
    ref: str,
    *,
    episode: str,
    turn: int,
    seed: int | None = None,
) -> operations.Retake:
    """Render again the part of ``episode`` of batch ``ref`` holding ``turn``, then stitch."""
    with session_scope(database_url) as session:
        batch = find_batch(session, ref)
        done = operations.retake(session, batch, episode, turn, seed)
    publish_queued(database_url, publish, database_clock(database_url)())
    return done


def retake_part(
    database_url: str, publish: Publish, ref: str, *, part: str, seed: int | None = None
) -> operations.Retake:
    """Render again the episode's part ``part`` of batch ``ref``, then stitch."""
    with session_scope(database_url) as session:
        batch = find_batch(session, ref)
        done = operations.retake_part(session, batch, part, seed)
    publish_queued(database_url, publish, database_clock(database_url)())
    return done


def cancel(database_url: str, storage: Storage, ref: str, *, abandon: bool = False) -> Outcome:
    """Cancel what has not run of batch ``ref`` (running jobs too with ``abandon``); the batch
    ends now when nothing of it runs. A batch that had ended is left as it is."""
    now = database_clock(database_url)()
    with session_scope(database_url) as session:
        batch = find_batch(session, ref)
        batch_id, name = batch.id, batch.name
        had_ended = batch.status in TERMINAL_BATCH_STATUSES
        count = operations.cancel(session, batch, now, abandon=abandon)
    ended = end_batch(database_url, storage, batch_id, now)
    return Outcome(batch_id, name, count, ended or had_ended)


def resume(database_url: str, publish: Publish, ref: str) -> Outcome:
    """Queue the paused jobs of batch ``ref`` again."""
    with session_scope(database_url) as session:
        batch = find_batch(session, ref)
        count = operations.resume(session, batch)
        outcome = Outcome(batch.id, batch.name, count)
    publish_queued(database_url, publish, database_clock(database_url)())
    return outcome
