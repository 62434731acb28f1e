"""A process announces itself: a daemon thread upserts its row in ``workers`` every
:data:`~audiobatch.db.workers.HEARTBEAT_INTERVAL_S`, and a clean stop marks it stopped.

The thread never takes its process down: a failed heartbeat (the database away, anything else)
is logged and tried again at the next turn, and the process goes non-live meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version

from audiobatch.db import workers
from audiobatch.db.clock import database_clock
from audiobatch.db.session import session_scope
from audiobatch.identity import process_identity

log = logging.getLogger(__name__)

PRUNE_EVERY = 720  # heartbeats between two prunings of long-gone rows (an hour at 5 s)


def package_version() -> str:
    """This installation's version of audiobatch."""
    try:
        return version("audiobatch")
    except PackageNotFoundError:
        return "unknown"


class Heartbeat:
    """Keeps this process's row in ``workers`` fresh from a daemon thread."""

    def __init__(
        self,
        database_url: str,
        *,
        role: str,
        queues: Sequence[str],
        concurrency: int,
        jobs_in_hand: Callable[[], Iterable[int]] = frozenset,
        interval_s: float = workers.HEARTBEAT_INTERVAL_S,
    ) -> None:
        self._database_url = database_url
        self._clock = database_clock(database_url)  # what other hosts judge this row by
        self._jobs_in_hand, self._interval_s = jobs_in_hand, interval_s
        self._me = workers.Announcement(
            id=process_identity(), host=socket.gethostname(), pid=os.getpid(), role=role,
            queues=list(queues), concurrency=concurrency, version=package_version(),
            started_at=self._clock(),
        )  # fmt: skip
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Announce this process now, then every interval until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """A clean stop: no more heartbeats, and the row says the process has stopped."""
        self._stopped.set()
        try:
            with session_scope(self._database_url) as session:
                workers.mark_stopped(session, self._me.id, self._clock())
        except Exception as exc:  # stopping goes on; the row simply stops being seen
            log.warning("heartbeat: cannot record the stop of %s: %s", self._me.id, exc)

    def beat(self, number: int = 0) -> None:
        """One heartbeat (and, every :data:`PRUNE_EVERY`, the pruning of long-gone rows)."""
        now = self._clock()
        with session_scope(self._database_url) as session:
            workers.heartbeat(session, self._me, self._jobs_in_hand(), now)
            if number % PRUNE_EVERY == 0:
                workers.prune(session, now)

    def _run(self) -> None:
        number = 0
        while not self._stopped.is_set():
            try:
                self.beat(number)
            except Exception:  # any failure: logged, and the next turn tries again
                log.exception("heartbeat of %s failed", self._me.id)
            number += 1
            self._stopped.wait(self._interval_s)
