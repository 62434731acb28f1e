"""Keeping a worker's leases alive: its jobs' leases in SQL and its limiter slots in Redis.

One thread per worker process renews them all every third of the lease, in one statement, whether
data is flowing or not: music can take minutes to its first byte, and a lease renewed only as
chunks arrive would run out meanwhile and hand a job that is still rendering to a second worker.
A job whose lease was taken over is noted as lost; its thread finds out at its next check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from audiobatch.db import jobs
from audiobatch.db.session import session_scope
from audiobatch.errors import AudiobatchError
from audiobatch.limiter import Limiter

log = logging.getLogger(__name__)


class LeaseLostError(AudiobatchError):
    """This worker's lease on the job expired and the job was handed to another worker."""


class LeaseKeeper:
    def __init__(
        self,
        database_url: str,
        worker: str,
        lease_s: float,
        limiter: Limiter,
        clock: Callable[[], datetime],
    ) -> None:
        self._database_url, self._worker, self._lease_s = database_url, worker, lease_s
        self._limiter, self._clock = limiter, clock
        self._held: set[int] = set()
        self._lost: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, job_id: int) -> None:
        """Keep job ``job_id``'s lease (just claimed by this worker) alive until :meth:`drop`."""
        with self._lock:
            self._held.add(job_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
                self._thread.start()

    def drop(self, job_id: int) -> None:
        with self._lock:
            self._held.discard(job_id)
            self._lost.discard(job_id)

    def held(self) -> frozenset[int]:
        """The ids of the jobs whose leases this worker holds now."""
        with self._lock:
            return frozenset(self._held)

    def check(self, job_id: int) -> None:
        """Raise :class:`LeaseLostError` if another worker has taken the job over."""
        if job_id in self._lost:
            raise LeaseLostError(f"job {job_id}: lease lost")

    def renew(self) -> None:
        """Push every held lease and limiter slot forward now."""
        with self._lock:  # only jobs claimed before the renewal starts can be missing from it
            held = set(self._held)
        with session_scope(self._database_url) as session:
            kept = jobs.extend_leases(session, self._worker, self._lease_s, self._clock())
        with self._lock:  # those dropped meanwhile have ended here: not lost
            self._lost |= (held - kept) & self._held
        self._limiter.renew_held()

    def _run(self) -> None:
        while True:
            time.sleep(self._lease_s / 3)
            try:
                self.renew()
            except (AudiobatchError, SQLAlchemyError) as exc:  # retried at the next turn
                log.warning("renewing leases failed: %s", exc)
