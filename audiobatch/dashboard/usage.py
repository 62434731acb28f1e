"""A batch's usage (characters charged, outputs stored) for the dashboard's summaries, summed
apart from the request that shows it.

Counts, progress and ETA are read fresh on every request. Usage sums every attempt and output of
the batch: on 100,000 jobs as long as the rest of the summary again, for a summary polled every
two seconds. So each process keeps the latest sum per batch and shows it while it is younger than
:data:`MAX_AGE_S`; an older one is still shown, with its time (``usage_as_of``), while a
background thread sums anew. Only a batch's first summary in a process waits for the sum.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from audiobatch.db.models import utcnow
from audiobatch.db.progress import Usage, batch_usage
from audiobatch.db.session import session_scope

log = logging.getLogger(__name__)

MAX_AGE_S = 5.0


class UsageCache:
    def __init__(self, database_url: str, max_age_s: float = MAX_AGE_S) -> None:
        self._url = database_url
        self._max_age_s = max_age_s
        self._latest: dict[str, Usage] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage")

    def of(self, session: Session, batch_id: str) -> Usage:
        """The batch's latest usage; summed now, in the caller's ``session``, when this process
        has none yet (a second transaction would wait for the first on SQLite)."""
        with self._lock:
            latest = self._latest.get(batch_id)
            stale = latest is not None and self._age_s(latest) > self._max_age_s
            if stale and batch_id not in self._refreshing:
                self._refreshing.add(batch_id)
                self._pool.submit(self._refresh, batch_id)
        return (
            latest if latest is not None else self._keep(batch_usage(session, batch_id, utcnow()))
        )

    def _age_s(self, usage: Usage) -> float:
        return (utcnow() - usage.as_of).total_seconds()

    def _keep(self, usage: Usage) -> Usage:
        with self._lock:
            self._latest[usage.batch_id] = usage
        return usage

    def _refresh(self, batch_id: str) -> None:
        try:
            with session_scope(self._url) as session:
                usage = batch_usage(session, batch_id, utcnow())
            self._keep(usage)
        except Exception:  # the last sum stays on show; the next summary asks again
            log.exception("batch %s: summing its usage failed", batch_id)
        finally:
            with self._lock:
                self._refreshing.discard(batch_id)
