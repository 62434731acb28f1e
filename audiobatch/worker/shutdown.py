"""Stopping a worker without losing work or paying for it twice.

On SIGTERM (or Ctrl+C) Celery stops taking messages and waits for the tasks it runs. On top of
that, jobs that have not called the API yet go back to the queue at once, and requests in flight
get a grace period to finish. Past it, the worker gives back their leases and limiter slots and
exits, so other workers take the jobs over now rather than when the leases run out.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from audiobatch.db import jobs
from audiobatch.db.session import session_scope
from audiobatch.render.runner import Runtime

log = logging.getLogger(__name__)

EXIT_ABANDONED = 3  # the grace period ran out with requests still in flight
EXIT_LEASES_LOST = 4  # the leases could not be renewed: other workers may have the jobs now


def begin_stop(runtime: Runtime | None, grace_s: float) -> None:
    """Stop sending new requests now; abandon the ones in flight after ``grace_s``."""
    if runtime is None:  # no job has run in this process: nothing is held
        return
    runtime.stopping.set()
    log.warning("stopping: requests in flight have %.0f s to finish", grace_s)
    threading.Thread(
        target=_abandon_after, args=(runtime, grace_s), name="shutdown-grace", daemon=True
    ).start()


def _abandon_after(runtime: Runtime, grace_s: float) -> None:
    time.sleep(grace_s)
    with session_scope(runtime.database_url) as session:
        handed_back = jobs.release_all(session, runtime.worker)
    slots = sum(limiter.release_held() for limiter in runtime.limiters())
    log.warning(
        "grace period over: %d job(s) handed back to the queue, %d limiter slot(s) freed",
        handed_back,
        slots,
    )
    logging.shutdown()
    os._exit(EXIT_ABANDONED)


def exit_for_lost_leases(runtime: Runtime) -> None:
    """This process could not renew its leases for too long: it sends no new request, frees its
    limiter slots and exits non-zero, so that its supervisor starts a fresh worker; the jobs go to
    other workers as their leases run out."""
    runtime.stopping.set()
    try:
        slots = sum(limiter.release_held() for limiter in runtime.limiters())
    except Exception as exc:  # the slots' leases run out by themselves
        log.error("limiter slots not freed: %s", exc)
        slots = 0
    log.critical(
        "exiting (code %d): leases lost; %d limiter slot(s) freed", EXIT_LEASES_LOST, slots
    )
    logging.shutdown()
    os._exit(EXIT_LEASES_LOST)
