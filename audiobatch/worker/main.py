"""Starting the worker and beat processes."""

from __future__ import annotations

import itertools
import logging
import socket
import sys
import threading
import time

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from audiobatch.broker import (
    HOUSEKEEPING_INTERVAL_S,
    RECONCILE_INTERVAL_S,
    create_celery,
)
from audiobatch.config import Settings
from audiobatch.db.workers import SCHEDULER, WORKER
from audiobatch.deployment import build_housekeeper, build_reconciler, build_webhook_sender
from audiobatch.worker.heartbeat import Heartbeat
from audiobatch.worker.routine_logs import quiet_periodic_tasks
from audiobatch.worker.tasks import register_tasks

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings, *, queues: list[str], concurrency: int | None, loglevel: str
) -> None:
    """Run a Celery worker in this process (threads pool: the work is waiting on HTTP); it
    announces itself in ``workers`` once it consumes, until it stops."""
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_periodic_tasks()
    # Threads mostly wait on sockets; a short switch interval lets one whose answer has arrived
    # take the GIL from a busy thread at once instead of after the default 5 ms.
    sys.setswitchinterval(0.0005)
    app = create_celery(settings)
    jobs_in_hand = register_tasks(app, settings)
    if settings.broker_url is None:
        # The embedded setup has no scheduler process: the worker drives the reconciler tick.
        start_ticker(settings, app, housekeeping=True)
    threads = concurrency or default_threads(settings)
    # The threads pool runs every task in this process: its heartbeat tells all the jobs it holds.
    heartbeat = Heartbeat(
        settings.resolved_database_url, role=WORKER, queues=queues, concurrency=threads,
        jobs_in_hand=jobs_in_hand,
    )  # fmt: skip
    worker_ready.connect(lambda **_: heartbeat.start(), weak=False)
    worker_shutdown.connect(lambda **_: heartbeat.stop(), weak=False)
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queues),
            "--concurrency",
            str(threads),
            "--pool",
            "threads",
            "--loglevel",
            loglevel,
            "--hostname",
            f"audiobatch@{socket.gethostname()}",
            "--without-mingle",
            "--without-gossip",
        ]
    )


def default_threads(settings: Settings) -> int:
    """Twice the account's slots: while one thread records an answer and claims its next job,
    another already holds a claimed job and takes the slot the moment it frees."""
    return 2 * (settings.api_concurrency + settings.music_concurrency)


def start_ticker(settings: Settings, app: Celery, *, housekeeping: bool) -> threading.Thread:
    """Run the reconciler tick every RECONCILE_INTERVAL_S, and with ``housekeeping`` (the
    embedded worker: no scheduler sends it) housekeeping now and then, in a daemon thread of this
    process."""
    reconciler, housekeeper = build_reconciler(settings, app), build_housekeeper(settings)
    ticks_per_housekeeping = round(HOUSEKEEPING_INTERVAL_S / RECONCILE_INTERVAL_S)

    def loop() -> None:
        for tick in itertools.count(1):
            time.sleep(RECONCILE_INTERVAL_S)
            try:
                reconciler()
                if housekeeping and tick % ticks_per_housekeeping == 0:
                    housekeeper()
            except Exception as exc:  # a busy database, or anything else: the next tick
                log.warning("reconciler tick failed: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=loop, name="reconciler-tick", daemon=True)
    thread.start()
    start_webhook_sender(settings)
    return thread


WEBHOOK_INTERVAL_S = 2.0
"""How often the outbox is drained: a batch's end is told within about this (a pass costs a few
queries, and an idle worker runs it for ever)."""


def start_webhook_sender(settings: Settings) -> threading.Thread:
    """Drain the webhook outbox every WEBHOOK_INTERVAL_S in a daemon thread of this process: a
    slow receiver then holds up neither the reconciler tick nor any render."""
    sender = build_webhook_sender(settings)

    def loop() -> None:
        while True:
            time.sleep(WEBHOOK_INTERVAL_S)
            try:
                sender()
            except Exception as exc:  # a busy database, or anything else: the next pass
                log.warning("webhook sender failed: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=loop, name="webhook-sender", daemon=True)
    thread.start()
    return thread


def run_beat(settings: Settings, *, loglevel: str) -> None:
    """Run the reconciler tick in this process, and Celery beat, which sends the firing of
    schedules and housekeeping to the control queue.

    The tick runs here rather than on a worker: behind renders in a busy fleet's control queue,
    it would wait and expire, and leases that ran out would never be taken back. Beat keeps its
    own state in memory (no ``celerybeat-schedule`` file): every entry is an interval, and what
    schedules have fired is kept in SQL. So any number of schedulers may run, on one machine or
    several: two ticks at once are harmless and a slot fires once.
    """
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_periodic_tasks()
    heartbeat = Heartbeat(settings.resolved_database_url, role=SCHEDULER, queues=[], concurrency=0)
    heartbeat.start()
    app = create_celery(settings)
    start_ticker(settings, app, housekeeping=False)
    try:
        app.Beat(loglevel=loglevel, scheduler="celery.beat:Scheduler").run()
    finally:
        heartbeat.stop()
