"""Per-process resources of a worker, built from settings on first use (after any fork)."""

from __future__ import annotations

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.backend import Backend, key_hash
from audiobatch.config import Settings
from audiobatch.db.clock import database_clock
from audiobatch.db.reconcile import Publish
from audiobatch.deployment import LEFTOVER_AGE_S, build_limiter
from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.elevenlabs.spool import remove_stale
from audiobatch.errors import ConfigError
from audiobatch.identity import process_identity
from audiobatch.render.accounts import AccountLines, ApiAccount
from audiobatch.render.runner import Runtime
from audiobatch.retry import RetryPolicy
from audiobatch.storage import open_storage
from audiobatch.worker.shutdown import exit_for_lost_leases


def build_runtime(settings: Settings, publish: Publish) -> Runtime:
    """A :class:`Runtime` for this process: storage, SQL location, and the default account's
    client and limiter (another account's are built on its first job)."""
    if settings.api_key is None:
        raise ConfigError(
            "ELEVENLABS_API_KEY is not set: a worker needs a key (or use `audiobatch run`, "
            "which starts the built-in emulator)"
        )
    registry = settings.account_registry()
    spool_root = (settings.home / "spool").resolve()
    remove_stale(spool_root, LEFTOVER_AGE_S)

    def account(name: str) -> ApiAccount:
        key = registry.key(name)
        return ApiAccount(
            client=ElevenLabsClient(settings.api_url, key),
            limiter=build_limiter(settings, key_hash(key)),
            backend=Backend.of(settings.api_url, key),
        )

    default = account(DEFAULT_ACCOUNT)
    return Runtime(
        database_url=settings.resolved_database_url,
        storage=open_storage(settings.storage_url),
        client=default.client,
        limiter=default.limiter,
        publish=publish,
        worker=process_identity(),
        backend=default.backend,
        lease_s=settings.lease_s,
        clock=database_clock(settings.resolved_database_url),
        on_leases_lost=exit_for_lost_leases,
        spool_root=spool_root,
        limits=settings.answer_limits,
        speech_rates=settings.speech_rates,
        source_buckets=settings.allowed_source_buckets,
        continue_at_reset=settings.continue_at_reset,
        other_accounts=AccountLines(account),
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            max_attempts_by_kind=settings.max_attempts_by_kind,
        ),
    )
