"""Celery tasks: thin shells around :func:`run_job` and the dispatcher tick."""

from __future__ import annotations

import os
import threading

from celery import Celery

from audiobatch.config import Settings
from audiobatch.db.dispatch import tick
from audiobatch.db.models import utcnow
from audiobatch.render.runner import Runtime, run_job
from audiobatch.worker.app import DISPATCH_TASK, RENDER_TASK, publisher
from audiobatch.worker.runtime import build_runtime


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register the render and dispatch tasks; resources are built per process on first use."""
    runtimes: dict[int, Runtime] = {}
    publish = publisher(app)

    lock = threading.Lock()

    def runtime() -> Runtime:
        # One runtime per process, shared by its threads: they must share one limiter.
        pid = os.getpid()
        with lock:
            if pid not in runtimes:
                runtimes.clear()  # a forked child never reuses its parent's clients or engines
                runtimes[pid] = build_runtime(settings, publish)
            return runtimes[pid]

    @app.task(name=RENDER_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def render(job_id: int) -> None:
        run_job(job_id, runtime())

    @app.task(name=DISPATCH_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def dispatch() -> None:
        tick(settings.resolved_database_url, publish, utcnow(), settings.republish_after_s)
