"""Starting the worker and beat processes."""

from __future__ import annotations

import logging
import socket
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from audiobatch.config import Settings
from audiobatch.db.dispatch import Publish, tick
from audiobatch.db.models import utcnow
from audiobatch.errors import AudiobatchError
from audiobatch.worker.app import DISPATCH_INTERVAL_S, create_celery, publisher
from audiobatch.worker.tasks import register_tasks

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings, *, queues: list[str], concurrency: int | None, loglevel: str
) -> None:
    """Run a Celery worker in this process (threads pool: the work is waiting on HTTP)."""
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_celery(settings)
    register_tasks(app, settings)
    if settings.broker_url is None:
        # The embedded setup has no scheduler process: the worker drives the dispatcher tick.
        start_ticker(settings, publisher(app))
    threads = concurrency or (settings.api_concurrency + settings.music_concurrency)
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


def start_ticker(settings: Settings, publish: Publish) -> threading.Thread:
    """Run the dispatcher tick every few seconds in a daemon thread of this process."""
    url = settings.resolved_database_url

    def loop() -> None:
        while True:
            time.sleep(DISPATCH_INTERVAL_S)
            try:
                tick(url, publish, utcnow(), settings.republish_after_s)
            except (AudiobatchError, SQLAlchemyError) as exc:  # a busy database: next tick
                log.warning("dispatcher tick failed: %s", exc)

    thread = threading.Thread(target=loop, name="dispatcher-tick", daemon=True)
    thread.start()
    return thread


def run_beat(settings: Settings, *, loglevel: str) -> None:
    """Run Celery beat, which sends the dispatcher tick to the control queue."""
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_celery(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    app.Beat(
        loglevel=loglevel,
        schedule=str((settings.home / "celerybeat-schedule").resolve()),
    ).run()
