"""Keeping a worker's jobs' leases in SQL alive (the limiter renews its own slots' leases, so a
Redis that stops answering never delays these).

One thread per worker process renews them all every third of the lease, whether data is flowing or
not: music can take minutes to its first byte, and a lease renewed only as chunks arrive would run
out meanwhile and hand a job that is still rendering to a second worker. It renews exactly the jobs
this process claimed, by id. A job whose lease was taken over is noted as lost; its thread finds
out at its next check.

The thread survives any exception. If it has not renewed the SQL leases for two leases' time, this
process has lost its jobs (other workers may take them): it reports that once through
``on_leases_lost``, whose owner stops the process so that its supervisor starts a fresh one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from audiobatch.db import jobs
from audiobatch.db.session import session_scope
from audiobatch.errors import AudiobatchError

log = logging.getLogger(__name__)

LEASES_LOST_AFTER = 2.0  # leases without a renewal after which this process gives its jobs up


class LeaseLostError(AudiobatchError):
    """This worker's lease on the job expired and the job was handed to another worker."""


class LeaseKeeper:
    def __init__(
        self,
        database_url: str,
        worker: str,
        lease_s: float,
        clock: Callable[[], datetime],
        on_leases_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self._database_url, self._worker, self._lease_s = database_url, worker, lease_s
        self._clock = clock
        self._on_leases_lost = on_leases_lost
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
        """The jobs whose leases this process keeps now."""
        with self._lock:
            return frozenset(self._held)

    def check(self, job_id: int) -> None:
        """Raise :class:`LeaseLostError` if another worker has taken the job over."""
        if job_id in self._lost:
            raise LeaseLostError(f"job {job_id}: lease lost")

    def renew(self) -> None:
        """Push every held lease forward now."""
        with self._lock:  # only jobs claimed before the renewal starts can be missing from it
            held = set(self._held)
        with session_scope(self._database_url) as session:
            kept = jobs.extend_leases(session, self._worker, held, self._lease_s, self._clock())
        with self._lock:  # those dropped meanwhile have ended here: not lost
            self._lost |= (held - kept) & self._held

    def _give_up(self) -> None:
        """Every held job counts as lost: its thread stops at its next check."""
        with self._lock:
            self._lost |= self._held

    def _run(self) -> None:
        renewed_at = time.monotonic()
        while True:
            time.sleep(self._lease_s / 3)
            with self._lock:  # nothing held: the thread ends, the next hold starts another
                if not self._held:
                    self._thread = None
                    return
            try:
                self.renew()
                renewed_at = time.monotonic()
            except Exception as exc:  # retried at the next turn, whatever it was
                log.warning("renewing leases failed: %s: %s", type(exc).__name__, exc)
            if time.monotonic() - renewed_at > LEASES_LOST_AFTER * self._lease_s:
                log.error(
                    "leases not renewed for %.0f s: this worker has lost its jobs",
                    time.monotonic() - renewed_at,
                )
                self._give_up()
                try:
                    self._on_leases_lost()
                except Exception:
                    log.exception("stopping after lost leases failed")
                renewed_at = time.monotonic()
