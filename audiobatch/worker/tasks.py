"""Celery tasks: thin shells around :func:`run_job`, the reconciler tick, the firing of
schedules and housekeeping."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from celery import Celery
from celery.signals import worker_shutting_down

from audiobatch.broker import (
    HOUSEKEEPING_TASK,
    RECONCILE_TASK,
    RENDER_TASK,
    SCHEDULES_TASK,
    publisher,
)
from audiobatch.config import Settings
from audiobatch.db.clock import database_clock
from audiobatch.deployment import build_housekeeper, build_reconciler
from audiobatch.render.runner import Runtime, run_job
from audiobatch.scheduler.firing import fire_due
from audiobatch.worker.runtime import build_runtime
from audiobatch.worker.shutdown import begin_stop

log = logging.getLogger(__name__)


def register_tasks(app: Celery, settings: Settings) -> Callable[[], frozenset[int]]:
    """Register the render, reconcile, schedule and housekeeping tasks and the graceful stop;
    resources are built per process on first use. Returns what tells the jobs this process
    holds leases on (for its heartbeat)."""
    runtimes: dict[int, Runtime] = {}
    publish = publisher(app)
    reconciler = build_reconciler(settings, app)
    housekeeper = build_housekeeper(settings)

    lock = threading.Lock()

    def runtime() -> Runtime:
        # One runtime per process, shared by its threads: they must share one limiter.
        pid = os.getpid()
        with lock:
            if pid not in runtimes:
                runtimes.clear()  # a forked child never reuses its parent's clients or engines
                runtimes[pid] = build_runtime(settings, publish)
            return runtimes[pid]

    def built() -> Runtime | None:
        with lock:
            return runtimes.get(os.getpid())

    def stop(**_: object) -> None:
        begin_stop(built(), settings.shutdown_grace_s)

    def jobs_in_hand() -> frozenset[int]:
        current = built()
        return frozenset() if current is None else current.leases.held()

    worker_shutting_down.connect(stop, weak=False)

    @app.task(name=RENDER_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def render(job_id: int) -> None:
        run_job(job_id, runtime())

    # schedulers run the tick themselves; one of an earlier release may still send it here
    @app.task(name=RECONCILE_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def reconcile() -> None:
        reconciler()

    @app.task(name=SCHEDULES_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def fire_schedules() -> None:
        url = settings.resolved_database_url
        fire_due(
            url, publish, database_clock(url)(), part_chars=settings.part_chars,
            sources=settings.source_policy(),
            accounts=settings.account_names(),
        )  # fmt: skip

    @app.task(name=HOUSEKEEPING_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def housekeeping() -> None:
        removed = housekeeper()
        if removed:
            log.info("housekeeping: removed %d leftover(s) of interrupted writes", removed)

    return jobs_in_hand
