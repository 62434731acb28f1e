"""Settings: the only reader of the environment.

Every process builds one :class:`Settings` at its edge (CLI command, worker start-up, dashboard) and
passes explicit values down; library parts never read the environment themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from audiobatch.accounts import DEFAULT_ACCOUNT, Accounts, registered_accounts
from audiobatch.backend import key_hash
from audiobatch.elevenlabs.limits import DEFAULT_FASTEST_CPS, AnswerLimits, SpeechRates
from audiobatch.errors import ConfigError
from audiobatch.estimate import CreditRates
from audiobatch.manifest.bundle import BundleLimits
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.manifest.dialogue import MAX_REQUEST_CHARS, MIN_PART_CHARS
from audiobatch.manifest.episodes import DEFAULT_PART_CHARS
from audiobatch.manifest.notify import url_problem
from audiobatch.readable import time_zone
from audiobatch.webhooks.signing import secret_problem

DEFAULT_API_URL = "https://api.elevenlabs.io"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# a list read from the environment as comma-separated words (JSON lists work too)
Words = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """audiobatch's configuration, read from ``AUDIOBATCH_*`` and ``ELEVENLABS_API_KEY``."""

    model_config = SettingsConfigDict(env_prefix="AUDIOBATCH_", extra="ignore", frozen=True)

    api_key: SecretStr | None = Field(default=None, validation_alias="ELEVENLABS_API_KEY")
    # more accounts than ELEVENLABS_API_KEY's (``default``): a file of ``name: key`` lines that
    # only its owner may read (see audiobatch.accounts)
    accounts_file: Path | None = None
    api_url: str = DEFAULT_API_URL
    home: Path = Path(".audiobatch")
    database_url: str | None = None
    broker_url: str | None = None
    redis_url: str | None = None
    storage_url: str = "file://./renders"
    # how the dashboard hands out outputs on S3: "presigned" links to the store (signed for
    # storage_public_endpoint where browsers reach the store at another address than the
    # processes do), or "stream" through the dashboard itself (a store browsers cannot reach)
    dashboard_downloads: Literal["presigned", "stream"] = "presigned"
    storage_public_endpoint: str | None = None
    api_concurrency: int = Field(default=2, ge=1)
    music_concurrency: int = Field(default=2, ge=1)
    dashboard_token: SecretStr | None = None
    # the dashboard's defences (see audiobatch.dashboard.guard): Host names it answers ("*": any),
    # proxies whose X-Forwarded-For/-Proto it believes, how long a login lasts, request bodies
    dashboard_allowed_hosts: Words = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    dashboard_trusted_proxies: Words = Field(default_factory=list)
    dashboard_session_s: float = Field(default=8 * 3600.0, gt=0)
    dashboard_login_failures_per_min: int = Field(default=5, ge=1)
    dashboard_max_body_bytes: int = Field(default=64 << 10, ge=1024)  # forms and actions
    dashboard_max_upload_bytes: int = Field(default=64 << 20, ge=1024)  # manifest uploads

    lease_s: float = Field(default=60.0, gt=0)
    republish_after_s: float = Field(default=300.0, gt=0)
    max_lost_leases: int = Field(default=3, ge=1)  # workers a job may outlive before it fails
    shutdown_grace_s: float = Field(default=30.0, ge=0)  # for requests in flight on SIGTERM
    max_attempts: int = Field(default=5, ge=1)
    # per kind, e.g. AUDIOBATCH_MAX_ATTEMPTS_BY_KIND='{"music": 3}'; other kinds use max_attempts
    max_attempts_by_kind: dict[str, int] = Field(default_factory=dict)
    # dialogue jobs longer than this are rendered in parts of at most this many characters
    part_chars: int = Field(default=DEFAULT_PART_CHARS, ge=MIN_PART_CHARS, le=MAX_REQUEST_CHARS)

    # what one answer may hold (see elevenlabs.limits): JSON answers, and stems ZIPs unpacked
    max_json_answer_bytes: int = Field(default=AnswerLimits.max_json_bytes, ge=1024)
    stems_max_entries: int = Field(default=AnswerLimits.max_zip_entries, ge=1)
    stems_max_entry_bytes: int = Field(default=AnswerLimits.max_stem_bytes, ge=1)
    stems_max_total_bytes: int = Field(default=AnswerLimits.max_stems_bytes, ge=1)
    stems_max_ratio: float = Field(default=AnswerLimits.max_stem_ratio, gt=1)
    # the fastest speech, in characters a second: dialogue audio under a third of what its text
    # takes at that rate was cut short (see render.completeness); per model, e.g.
    # AUDIOBATCH_FASTEST_SPEECH_CPS_BY_MODEL='{"eleven_flash_v2_5": 30}'
    fastest_speech_cps: float = Field(default=DEFAULT_FASTEST_CPS, gt=0)
    fastest_speech_cps_by_model: dict[str, float] = Field(default_factory=dict)

    # where sources may come from (see manifest.confinement), each a comma-separated list or a
    # JSON list: local folders (unset: the manifest's own folder for the CLI, none for manifests
    # uploaded to the dashboard), and S3 buckets or bucket/prefixes (unset: the storage's own)
    source_roots: Annotated[tuple[Path, ...] | None, NoDecode] = None
    source_buckets: Annotated[tuple[str, ...] | None, NoDecode] = None
    # what a bundle uploaded to the dashboard may unpack to (see manifest.bundle)
    bundle_max_files: int = Field(default=BundleLimits.max_files, ge=1)
    bundle_max_file_bytes: int = Field(default=BundleLimits.max_file_bytes, ge=1)
    bundle_max_bytes: int = Field(default=BundleLimits.max_bytes, ge=1)
    bundle_max_ratio: float = Field(default=BundleLimits.max_ratio, gt=1)
    # the credits an estimate prices characters and music minutes at (see audiobatch.estimate),
    # e.g. AUDIOBATCH_CREDIT_RATES='{"character": 0.5, "music_minute": 800}'
    credit_rates: CreditRates = Field(default_factory=CreditRates)
    # a batch paused on the account's quota goes on at the account's next reset, unless it was
    # submitted with --no-continue-at-reset
    continue_at_reset: bool = False
    # the IANA time zone every time is shown in, by the CLI and the dashboard
    time_zone: str = "UTC"
    # webhooks (see audiobatch.webhooks): the deployment's receiver of every batch's events, the
    # Standard Webhooks secret that signs them (whsec_ and base64), and the delivery attempts
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)

    @field_validator("api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and (problem := url_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if problem := secret_problem(value.get_secret_value().strip()):
            raise ValueError(f"AUDIOBATCH_WEBHOOK_SECRET {problem}")
        return SecretStr(value.get_secret_value().strip())

    @model_validator(mode="after")
    def _signed_webhooks(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError(
                "AUDIOBATCH_WEBHOOK_URL needs AUDIOBATCH_WEBHOOK_SECRET (whsec_ and base64) to "
                "sign what it is sent"
            )
        return self

    @field_validator("api_key", "dashboard_token")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator(
        "source_roots",
        "source_buckets",
        "dashboard_allowed_hosts",
        "dashboard_trusted_proxies",
        mode="before",
    )
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """A JSON list, or words separated by commas."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [word.strip() for word in text.split(",") if word.strip()]

    @field_validator("source_roots")
    @classmethod
    def _absolute_roots(cls, value: tuple[Path, ...] | None) -> tuple[Path, ...] | None:
        if not value:  # unset or empty: the default roots
            return None
        return tuple(root.expanduser().absolute() for root in value)

    @field_validator("source_buckets")
    @classmethod
    def _bucket_prefixes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if not value:  # unset or empty: the storage's bucket
            return None
        return tuple(item.removeprefix("s3://").strip("/") for item in value)

    @field_validator("dashboard_allowed_hosts")
    @classmethod
    def _lower_case_hosts(cls, value: list[str]) -> list[str]:
        return [host.lower() for host in value]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            time_zone(value)
        except ValueError as exc:
            raise ValueError(f"AUDIOBATCH_TIME_ZONE: {exc}") from exc
        return value

    @field_validator("max_attempts_by_kind")
    @classmethod
    def _known_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        from audiobatch.manifest.schema import unknown_kinds

        wrong = unknown_kinds(value)
        if wrong:
            raise ValueError(wrong)
        low = sorted(kind for kind, attempts in value.items() if attempts < 1)
        if low:
            raise ValueError(f"attempts must be at least 1 (for {', '.join(low)})")
        return value

    @field_validator("fastest_speech_cps_by_model")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        slow = sorted(model for model, cps in value.items() if cps <= 0)
        if slow:
            raise ValueError(f"characters a second must be above 0 (for {', '.join(slow)})")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The time zone times are shown in (``AUDIOBATCH_TIME_ZONE``)."""
        return time_zone(self.time_zone)

    @property
    def answer_limits(self) -> AnswerLimits:
        """The caps on what one answer may hold, for the renderers."""
        return AnswerLimits(
            max_json_bytes=self.max_json_answer_bytes,
            max_zip_entries=self.stems_max_entries,
            max_stem_bytes=self.stems_max_entry_bytes,
            max_stems_bytes=self.stems_max_total_bytes,
            max_stem_ratio=self.stems_max_ratio,
        )

    @property
    def allowed_source_buckets(self) -> tuple[str, ...]:
        """The buckets or bucket/prefixes S3 sources may name: the configured ones, else the
        storage's bucket and prefix when storage is S3, else none."""
        if self.source_buckets is not None:
            return self.source_buckets
        if self.storage_url.startswith("s3://"):
            return (self.storage_url.removeprefix("s3://").strip("/"),)
        return ()

    def source_policy(self, *, uploaded: bool = False) -> SourcePolicy:
        """Where a manifest's sources may come from: read from a file by the CLI or a schedule,
        or ``uploaded`` (to the dashboard), which has no folder of its own."""
        policy = SourcePolicy(self.source_roots, self.allowed_source_buckets)
        return policy.without_folder_default() if uploaded else policy

    @property
    def bundle_limits(self) -> BundleLimits:
        """The caps on what a bundle uploaded to the dashboard may unpack to."""
        return BundleLimits(
            max_files=self.bundle_max_files,
            max_file_bytes=self.bundle_max_file_bytes,
            max_bytes=self.bundle_max_bytes,
            max_ratio=self.bundle_max_ratio,
        )

    @property
    def speech_rates(self) -> SpeechRates:
        """The fastest speech per model, for the check that dialogue audio is whole."""
        return SpeechRates(self.fastest_speech_cps, dict(self.fastest_speech_cps_by_model))

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL; the embedded SQLite file under ``home`` when none is set."""
        return self.database_url or f"sqlite:///{(self.home / 'state.db').resolve()}"

    @property
    def queue_folder(self) -> Path:
        """Where the embedded filesystem broker keeps its messages."""
        return (self.home / "queue").resolve()

    @property
    def resolved_broker_url(self) -> str:
        """The Celery broker URL; the embedded filesystem broker when none is set."""
        return self.broker_url or "filesystem://"

    @property
    def resolved_redis_url(self) -> str | None:
        """Redis for the shared limiter: explicit, else the broker when it is Redis, else None."""
        if self.redis_url:
            return self.redis_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def is_embedded_database(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def api_key_hash(self) -> str | None:
        """A short, stable name for the API key that never reveals it (for limiter keys and logs)."""
        if self.api_key is None:
            return None
        return key_hash(self.api_key.get_secret_value())

    def account_registry(self) -> Accounts:
        """The registered accounts (``ELEVENLABS_API_KEY`` as ``default``, and the accounts
        file's), read now: a process reads them once, at its edge."""
        key = None if self.api_key is None else self.api_key.get_secret_value()
        return registered_accounts(key, self.accounts_file)

    def account_names(self) -> frozenset[str]:
        """The names a batch may render with: the registered accounts', and ``default`` (which
        ``run`` without a key renders with on its built-in emulator)."""
        return frozenset(self.account_registry().names) | {DEFAULT_ACCOUNT}

    def with_overrides(self, **values: object) -> Settings:
        """A copy with some values replaced (e.g. the embedded emulator's URL and key)."""
        return self.model_copy(update=values)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; a malformed variable is a ConfigError naming it."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(  # a validator's message without pydantic's "Value error, "
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    except SettingsError as exc:  # a value that is not the JSON its setting takes
        raise ConfigError(f"invalid settings: {exc} (expected JSON)") from exc
    return settings.with_overrides(**overrides) if overrides else settings
