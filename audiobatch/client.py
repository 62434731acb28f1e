"""The Python API: submit manifests, wait for batches, read their status and outputs, and act on
them, through the same code as the command line and the dashboard.

::

    from audiobatch import Client

    client = Client.from_env()
    batch = client.submit({"batch": "hello", "jobs": [...]})
    client.wait(batch.id, timeout_s=600)
    for output in client.results(batch.id):
        print(output.job_id, output.path or output.url)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiobatch import control
from audiobatch.account_check import estimates_by_account, refuse_over
from audiobatch.accounts import with_account
from audiobatch.batch_states import batch_states, settled
from audiobatch.config import Settings, load_settings
from audiobatch.control import Outcome
from audiobatch.db.clock import database_now
from audiobatch.db.migrate import ready_database
from audiobatch.db.models import TERMINAL_BATCH_STATUSES
from audiobatch.db.operations import Retake
from audiobatch.db.reports import batch_report, find_batch, list_jobs
from audiobatch.db.session import session_scope
from audiobatch.db.submit import Spending
from audiobatch.db.workers import unserved_queues
from audiobatch.errors import WaitTimeoutError
from audiobatch.manifest import Manifest, load_manifests
from audiobatch.manifest.loaders import load_manifest_bytes
from audiobatch.manifest.tags import with_tags
from audiobatch.priorities import with_priority
from audiobatch.storage import Storage, open_storage
from audiobatch.submission import submit_manifests

if TYPE_CHECKING:
    from audiobatch.db.reconcile import Publish

POLL_S = 1.0
URL_EXPIRES_S = 3600

ManifestSource = Path | str | Mapping[str, Any]


@dataclass(frozen=True)
class BatchStatus:
    """A batch as it stands: its status (``running``, ``paused``, ``succeeded``, ``partial``,
    ``failed``, ``cancelled``...), why (a paused batch's reason), its jobs counted by status, and
    the characters it has cost. :meth:`as_json` is the ``audiobatch status BATCH --json`` shape."""

    id: str
    name: str
    status: str
    reason: str | None
    counts: dict[str, int]
    characters: int
    tags: list[str]
    created_at: datetime
    finished_at: datetime | None
    report: dict[str, Any] = field(repr=False, compare=False)

    @property
    def ended(self) -> bool:
        """Whether the batch has ended (a paused batch has not)."""
        return self.status in {status.value for status in TERMINAL_BATCH_STATUSES}

    def as_json(self) -> dict[str, Any]:
        """The ``status BATCH --json`` report: the summary with every job and its outputs."""
        return self.report

    @classmethod
    def of(cls, report: dict[str, Any]) -> BatchStatus:
        finished = report["finished_at"]
        return cls(
            id=report["id"],
            name=report["name"],
            status=report["status"],
            reason=report["reason"],
            counts=report["counts"],
            characters=report["characters"],
            tags=report["tags"],
            created_at=datetime.fromisoformat(report["created_at"]),
            finished_at=datetime.fromisoformat(finished) if finished else None,
            report=report,
        )


@dataclass(frozen=True)
class Output:
    """One stored output of a job: where to read it (``path`` with local storage, a presigned
    ``url`` with S3), its size and sha256 as recorded when it was written."""

    job_id: str
    name: str
    path: Path | None
    url: str | None
    bytes: int
    sha256: str
    content_type: str


class Client:
    """audiobatch as a library, on one deployment's settings (``AUDIOBATCH_*``, as the CLI reads
    them, unless ``settings`` are given). Batches are named by id, unique id prefix or name."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()

    @classmethod
    def from_env(cls) -> Client:
        """A client on the settings of the environment (a malformed one is a ConfigError)."""
        return cls(load_settings())

    @cached_property
    def database_url(self) -> str:
        """The deployment's database, migrated (embedded SQLite) or checked (servers)."""
        return ready_database(self.settings)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings.storage_url, self.settings.storage_public_endpoint)

    @cached_property
    def _publish(self) -> Publish:
        from audiobatch.broker import create_celery, publisher

        return publisher(create_celery(self.settings))

    def submit(
        self,
        manifest: ManifestSource,
        *,
        format: str | None = None,
        base_dir: Path | None = None,
        tags: list[str] | None = None,
        priority: int | str | None = None,
        account: str | None = None,
        character_budget: int | None = None,
        fresh: bool = False,
        force: bool = False,
        allow_over: bool = False,
    ) -> BatchStatus:
        """Validate a manifest and queue it as a batch for the workers.

        ``manifest`` is a file's path, manifest text in ``format`` (``yaml``, ``json``,
        ``jsonl``, ``csv``), or a dict as a YAML manifest would read; relative source paths of
        text and dicts are read from ``base_dir`` (the current folder by default). A manifest
        whose batch is still active returns that batch, unless ``force``; ``fresh`` generates
        anew what was generated before; the batch pauses after ``character_budget`` characters.
        ``priority`` (``urgent``, ``normal``, ``bulk`` or 0-100, higher first) replaces the
        manifest's: workers take the most urgent batch's jobs first. ``account`` (a registered
        account's name) replaces the manifest's: its API key renders the batch and its quota
        pays for it.
        Raises :class:`~audiobatch.errors.ManifestError` with every problem, each located,
        :class:`~audiobatch.errors.AccountNameError` for an ``account`` not registered, and
        :class:`~audiobatch.errors.QuotaShortError` when the batch needs more than the account
        has left, unless ``allow_over`` (then it pauses when the quota runs out).
        """
        loaded = with_tags(self._load(manifest, format, base_dir or Path.cwd()), tags or [])
        loaded = with_account(
            with_priority(loaded, priority), account, self.settings.account_names()
        )
        if not allow_over:
            found = estimates_by_account([loaded], self.settings)[loaded.account]
            refuse_over(found, self.settings.zone, loaded.account)
        [batch] = submit_manifests(
            self.database_url,
            [loaded],
            self._publish,
            fresh=fresh,
            force=force,
            spending=Spending(character_budget=character_budget),
        )
        return self.status(batch.id)

    def _load(self, manifest: ManifestSource, format: str | None, base_dir: Path) -> Manifest:
        settings = self.settings
        if isinstance(manifest, Mapping):
            manifest, format = json.dumps(manifest, indent=2), "json"
        if isinstance(manifest, str) and format is not None:
            return load_manifest_bytes(
                manifest.encode(),
                file=f"manifest.{format}",
                base_dir=base_dir,
                part_chars=settings.part_chars,
                sources=settings.source_policy(),
                accounts=settings.account_names(),
            )
        [loaded] = load_manifests(
            [Path(manifest)],
            part_chars=settings.part_chars,
            sources=settings.source_policy(),
            accounts=settings.account_names(),
        )
        return loaded

    def status(self, batch: str) -> BatchStatus:
        """The batch as it stands now."""
        with session_scope(self.database_url) as session:
            return BatchStatus.of(batch_report(session, find_batch(session, batch)))

    def wait(
        self, batch: str, *, timeout_s: float | None = None, poll_s: float = POLL_S
    ) -> BatchStatus:
        """Block until the batch has ended or paused (see :attr:`BatchStatus.reason` for why),
        polling every ``poll_s``. After ``timeout_s`` raises
        :class:`~audiobatch.errors.WaitTimeoutError` saying where the batch stands, and which
        of its queues no live worker serves."""
        batch_id = self.status(batch).id
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        paused_since: dict[str, float] = {}
        while True:
            [state] = batch_states(self.database_url, [batch_id]).values()
            if settled(state, paused_since):
                return self.status(batch_id)
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(self._still_waiting(state.name, batch_id, timeout_s))
            time.sleep(poll_s if deadline is None else min(poll_s, deadline - time.monotonic()))

    def _still_waiting(self, name: str, batch_id: str, timeout_s: float | None) -> str:
        with session_scope(self.database_url) as session:
            unserved = unserved_queues(session, [batch_id], database_now(session))
        counts = self.status(batch_id).counts
        left = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        message = f"batch {name} [{batch_id}] has not ended after {timeout_s} s ({left})"
        if unserved:
            message += (
                f": no live worker serves queue(s) {', '.join(unserved)}; "
                "start one with `audiobatch worker`"
            )
        return message

    def results(self, batch: str, *, url_expires_s: int = URL_EXPIRES_S) -> Iterator[Output]:
        """The batch's outputs so far, job by job: each with its local path (local storage) or
        a presigned URL valid ``url_expires_s`` (S3)."""
        with session_scope(self.database_url) as session:
            found = find_batch(session, batch)
            recorded = [
                (job.key, a.name, a.key, a.bytes, a.sha256, a.content_type)
                for job in list_jobs(session, found.id)
                for a in job.artifacts
            ]
        for job_id, name, key, size, sha256, content_type in recorded:
            yield Output(
                job_id=job_id,
                name=name,
                path=self.storage.local_path(key),
                url=self.storage.presigned_url(key, url_expires_s),
                bytes=size,
                sha256=sha256,
                content_type=content_type,
            )

    def cancel(self, batch: str, *, abandon: bool = False) -> Outcome:
        """Cancel what has not run (running jobs too with ``abandon``); the batch ends once
        nothing of it runs."""
        return control.cancel(self.database_url, self.storage, batch, abandon=abandon)

    def retry(self, batch: str, *, job_id: str | None = None) -> Outcome:
        """Queue the batch's failed jobs (or its failed job ``job_id``) again."""
        return control.retry(self.database_url, self._publish, batch, job_key=job_id)

    def retake(self, batch: str, *, job_id: str, turn: int, seed: int | None = None) -> Retake:
        """Render again the part of episode ``job_id`` holding ``turn`` (from 0) with ``seed``,
        else a new one, then stitch the episode again; its outputs stay until the new take's
        are verified. Raises :class:`~audiobatch.errors.RetakeError` for a job that is not an
        episode, a turn it does not have, or an episode still rendering."""
        return control.retake(
            self.database_url, self._publish, batch, episode=job_id, turn=turn, seed=seed
        )

    def resume(self, batch: str) -> Outcome:
        """Queue a paused batch's jobs again (one that spent its budget goes on without it)."""
        return control.resume(self.database_url, self._publish, batch)
