"""The embedded all-in-one: the built-in emulator when no API key is set, and a local worker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from pydantic import SecretStr
from rich.console import Console

from audiobatch.backend import EMBEDDED_EMULATOR_KEY
from audiobatch.config import Settings
from audiobatch.errors import LocalWorkerStoppedError

WORKER_STOP_GRACE_S = 15.0


@contextmanager
def embedded_services(
    settings: Settings, console: Console
) -> Iterator[tuple[Settings, Callable[[], None]]]:
    """Start what ``run`` needs; yields the settings the rest of the run must use, and a check
    that raises :class:`LocalWorkerStoppedError` once the local worker has stopped."""
    console.print(
        f"State: {_describe_database(settings)}; broker: {_describe_broker(settings)}; "
        f"storage: {settings.storage_url}",
        highlight=False,
        soft_wrap=True,
    )
    with ExitStack() as stack:
        if settings.api_key is None:
            settings = stack.enter_context(_emulator(settings, console))
        worker_running = stack.enter_context(_worker(settings, console))
        yield settings, worker_running


@contextmanager
def _emulator(settings: Settings, console: Console) -> Iterator[Settings]:
    from audiobatch.emulator import EmulatorConfig, serve_in_thread

    config = EmulatorConfig(
        concurrency=settings.api_concurrency, music_concurrency=settings.music_concurrency
    )
    with serve_in_thread(config) as emulator:
        console.print(
            f"No ELEVENLABS_API_KEY set: rendering against the built-in emulator at {emulator.url}",
            soft_wrap=True,
        )
        yield settings.with_overrides(
            api_url=emulator.url, api_key=SecretStr(EMBEDDED_EMULATOR_KEY)
        )


@contextmanager
def _worker(settings: Settings, console: Console) -> Iterator[Callable[[], None]]:
    settings.home.mkdir(parents=True, exist_ok=True)
    log_path = (settings.home / "worker.log").resolve()
    env = dict(os.environ)
    env.update(worker_environment(settings))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "audiobatch", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    console.print(
        f"Started a local worker (pid {process.pid}); its log is {log_path}", soft_wrap=True
    )

    def running() -> None:
        code = process.poll()
        if code is not None:
            raise LocalWorkerStoppedError(
                f"the local worker stopped (exit code {code}) before the batches ended; its log "
                f"is {log_path}. The jobs it held go back to the queue once their leases run "
                "out: run the same `audiobatch run` command again to go on"
            )

    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(WORKER_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _describe_database(settings: Settings) -> str:
    if settings.is_embedded_database:
        return f"SQLite at {settings.resolved_database_url.removeprefix('sqlite:///')}"
    return "the configured database"


def _describe_broker(settings: Settings) -> str:
    if settings.broker_url is None:
        return f"filesystem queue at {settings.queue_folder}"
    return "the configured broker"


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment that makes a child worker see exactly these settings."""
    env = {
        "AUDIOBATCH_API_URL": settings.api_url,
        "AUDIOBATCH_HOME": str(settings.home.resolve()),
        "AUDIOBATCH_DATABASE_URL": settings.resolved_database_url,
        "AUDIOBATCH_STORAGE_URL": settings.storage_url,
        "AUDIOBATCH_API_CONCURRENCY": str(settings.api_concurrency),
        "AUDIOBATCH_MUSIC_CONCURRENCY": str(settings.music_concurrency),
    }
    if settings.broker_url:
        env["AUDIOBATCH_BROKER_URL"] = settings.broker_url
    if settings.redis_url:
        env["AUDIOBATCH_REDIS_URL"] = settings.redis_url
    if settings.api_key is not None:
        env["ELEVENLABS_API_KEY"] = settings.api_key.get_secret_value()
    if settings.accounts_file is not None:
        env["AUDIOBATCH_ACCOUNTS_FILE"] = str(settings.accounts_file.resolve())
    return env
