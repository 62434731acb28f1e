"""Routine lines at DEBUG: Celery logs, at INFO, beat sending each periodic task and a worker
receiving and finishing it, every few seconds whether anything happened or not. What those tasks
do that an operator acts on (a schedule fired, a batch ended, a tick that failed) they log
themselves; a periodic task that fails is still logged at its own level."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from audiobatch.broker import HOUSEKEEPING_TASK, RECONCILE_TASK, SCHEDULES_TASK

PERIODIC_TASKS = frozenset({SCHEDULES_TASK, HOUSEKEEPING_TASK, RECONCILE_TASK})
CELERY_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
"""Where Celery logs a task sent by beat, received by a worker and finished."""


def periodic_task_of(record: logging.LogRecord) -> str | None:
    """The periodic task an INFO line of Celery's is about, if it is about one: workers log
    with the task's fields as a mapping, beat with the entry's name and task."""
    if record.levelno != logging.INFO:
        return None
    args = record.args
    if isinstance(args, Mapping):
        task = args.get("name")
    elif record.name == "celery.beat" and isinstance(args, tuple) and len(args) == 2:
        task = args[1]
    else:
        return None
    return task if task in PERIODIC_TASKS else None


class PeriodicTasksAtDebug(logging.Filter):
    """Logs Celery's lines about periodic tasks at DEBUG, and only where DEBUG is enabled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if periodic_task_of(record) is None:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_periodic_tasks() -> None:
    """Install :class:`PeriodicTasksAtDebug` on Celery's loggers (once per process)."""
    for name in CELERY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, PeriodicTasksAtDebug) for f in logger.filters):
            logger.addFilter(PeriodicTasksAtDebug())
