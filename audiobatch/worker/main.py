"""Starting the worker and beat processes."""

from __future__ import annotations

import logging
import socket

from audiobatch.config import Settings
from audiobatch.worker.app import create_celery
from audiobatch.worker.tasks import register_tasks


def run_worker(
    settings: Settings, *, queues: list[str], concurrency: int | None, loglevel: str
) -> None:
    """Run a Celery worker in this process (threads pool: the work is waiting on HTTP)."""
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_celery(settings)
    register_tasks(app, settings)
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
