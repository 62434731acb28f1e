"""The audiobatch error tree.

Every error audiobatch raises on purpose derives from :class:`AudiobatchError`. Foreign errors
(httpx, botocore, SQLAlchemy, PyYAML) are translated into this tree at one boundary each and
re-raised with ``raise ... from exc``::

    AudiobatchError
    ├── ConfigError                 settings that cannot work
    │   ├── AccountNameError        a batch names an account that is not registered
    │   └── PriorityError           a batch priority that is none
    ├── ManifestError               a manifest that cannot be read or validated (all problems at once)
    ├── NotFoundError               a batch, job or schedule that does not exist
    ├── WaitTimeoutError            a batch had not ended or paused when a wait gave up
    ├── LocalWorkerStoppedError     the worker `run` started stopped before its batches ended
    ├── ScheduleError               a schedule's cron expression, time zone or manifest cannot be used
    ├── QuotaShortError             a batch needs more credits than the account has left
    ├── AccessError                 a dashboard request or action refused
    │   ├── OperatorRequiredError   the dashboard's token is set and was not given, or was wrong
    │   ├── CrossSiteRequestError   the action was sent from another site's page
    │   ├── UnknownHostError        the request named a host the dashboard does not answer for
    │   └── TooManyAttemptsError    too many wrong tokens from one address: wait, then try again
    ├── SourceError                 a job's input audio or plan is missing, unreadable or not audio
    ├── DatabaseError               the SQL database failed
    │   ├── DatabaseUnavailableError    it cannot be reached or is busy: try again later
    │   └── DatabaseRejectedError       it refused the statement: trying again will not help
    ├── LimiterUnavailableError     the shared limiter's Redis cannot be reached: try again later
    ├── BrokerUnavailableError      the broker cannot be reached: wake-ups were not sent
    ├── InternalError               an unexpected exception while a job ran: the job fails
    ├── StorageError                object storage failed
    │   ├── StorageUnavailableError the store could not be reached: try again later
    │   ├── StoragePermanentError   the store refuses for good (path, bucket, permissions): fail the job
    │   ├── StorageConflictError    a create-only write found an object already at its key
    │   └── StorageIntegrityError   a stored object does not match what was written
    └── ApiError                    the generation API answered with an error, or not at all
        ├── RetryableApiError       the same request may succeed later
        │   ├── ConcurrencyLimitError   429 too_many_concurrent_requests / concurrent_limit_exceeded
        │   ├── ApiBusyError            429 system_busy / rate_limit_exceeded, 5xx
        │   ├── ApiTransportError       timeout, disconnect, truncated, slow or malformed body
        │   │   └── UnexpectedAnswerError   a 200 whose body is not in the format asked
        │   └── TruncatedAudioError     valid audio far shorter than its text takes to speak
        └── FatalApiError           the same request will fail again: fail the job
            ├── AccountError            401: the key is invalid or out of quota
            └── AnswerTooLargeError     an answer, or what it inflates to, beyond its cap

Whether an error is retried is decided by its class, never by matching message strings.
"""

from __future__ import annotations

from dataclasses import dataclass


class AudiobatchError(Exception):
    """Root of every error audiobatch raises on purpose."""


class ConfigError(AudiobatchError):
    """A setting is missing, malformed or inconsistent with the others."""


class QuotaShortError(AudiobatchError):
    """A batch needs more credits than the account has left before its next reset: not
    submitted (``--allow-over`` submits it anyway)."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a manifest: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ManifestError(AudiobatchError):
    """A manifest could not be read or is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFoundError(AudiobatchError):
    """A batch, job or schedule named by the user does not exist."""


class RetakeError(AudiobatchError):
    """A retake was asked of a job that is not an episode, at a turn it does not have, or while
    the episode is still rendering."""


class WaitTimeoutError(AudiobatchError):
    """A batch had neither ended nor paused within the time a wait was given; the message says
    where it stands, and which queues no live worker serves when that is why."""


class LocalWorkerStoppedError(AudiobatchError):
    """The worker ``run`` started stopped before the batches ended; the message says where its
    log is and how to go on."""


class ScheduleError(AudiobatchError):
    """A schedule's cron expression, time zone, name or manifest location cannot be used."""


class ScheduleFieldError(ScheduleError):
    """One value given for a new schedule cannot be used; ``field`` names it (``name``,
    ``cron``, ``timezone``, ``manifest`` or ``character_budget``), so a form can show the
    message beside it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class TagError(AudiobatchError):
    """A batch tag is not a short name, or a batch would carry more tags than allowed."""


class AccountNameError(ConfigError):
    """A batch names an account that is not registered (or no account name at all)."""


class PriorityError(ConfigError):
    """A batch priority given is not ``urgent``, ``normal``, ``bulk`` or a number from 0 to 100."""


class IdempotencyKeyReusedError(AudiobatchError):
    """An ``Idempotency-Key`` already used for one submission came with a different one."""


class AccessError(AudiobatchError):
    """A dashboard request or action was refused; reading stays open to the hosts allowed."""


class OperatorRequiredError(AccessError):
    """``AUDIOBATCH_DASHBOARD_TOKEN`` is set and the request did not carry it (or a wrong one)."""


class CrossSiteRequestError(AccessError):
    """A write action came from another site's page, or without proof that it did not."""


class UnknownHostError(AccessError):
    """The request's ``Host`` is not one the dashboard answers for (a DNS rebinding attempt, or
    a name missing from ``AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS``)."""


class TooManyAttemptsError(AccessError):
    """One client address gave too many wrong tokens within a minute."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many wrong tokens from this address: try again in {retry_after_s} s")


class SourceError(AudiobatchError):
    """A job's input (a source file, an S3 object, another job's output) cannot be used."""


class DatabaseError(AudiobatchError):
    """The SQL database failed; the subclass says whether waiting can help."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached (or is too busy to answer) for now; the work is retried."""


class DatabaseRejectedError(DatabaseError):
    """The database refused the statement itself: a value out of range or too long for its
    column, a broken constraint, a missing table or column. Sending it again fails again, so it
    is never waited out; the message says what was refused."""


class LimiterUnavailableError(AudiobatchError):
    """The shared concurrency limiter's Redis cannot be reached; the job is retried later."""


class BrokerUnavailableError(AudiobatchError):
    """The broker cannot be reached, so wake-ups were not sent. Their jobs stay queued in SQL and
    the reconciler tick announces them once the broker answers."""


class InternalError(AudiobatchError):
    """An unexpected exception (a bug, a value nothing expected) while a job ran. The job fails
    with the exception's class and message rather than retrying: a bug repeats, and each retry
    could pay for another generation."""


class StorageError(AudiobatchError):
    """Object storage failed."""


class StorageUnavailableError(StorageError):
    """The store could not be reached or refused the operation for now; the write can be retried."""


class StoragePermanentError(StorageError):
    """The store refuses the operation and will refuse it again until someone changes something:
    a name too long, no permission, a read-only or full file system, a bucket that does not
    exist, credentials it rejects. The message says which path or bucket and what to fix."""


class StorageConflictError(StorageError):
    """A create-only write found an object already at its key: another writer's, written since
    the key was cleared (see :mod:`audiobatch.render.context`)."""


class StorageIntegrityError(StorageError):
    """A stored object's size or sha256 differs from what was written."""


class ApiError(AudiobatchError):
    """The generation API answered with an error, or did not answer properly.

    ``status`` is the HTTP status (None when no response arrived), ``code`` the API's error code
    (``detail.code``, falling back to the legacy ``detail.status``), ``request_id`` the id the API
    gave the request, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after_s = retry_after_s


class RetryableApiError(ApiError):
    """The same request may succeed if sent again later."""


class ConcurrencyLimitError(RetryableApiError):
    """429: the account's concurrent-request limit is reached; retry once a slot frees."""


class ApiBusyError(RetryableApiError):
    """429 system_busy or rate_limit_exceeded, or a 5xx: back off exponentially and retry."""


class ApiTransportError(RetryableApiError):
    """No usable answer: connect or read timeout, disconnect, truncated or malformed body, or a
    body that arrives slower than its pace allows (:mod:`audiobatch.elevenlabs.pace`)."""


class UnexpectedAnswerError(ApiTransportError):
    """A 200 whose Content-Type or first bytes are not those of the format asked (MP3 where Opus
    was asked, audio where a ZIP was): nothing of it is stored, and the request is sent again."""


class TruncatedAudioError(RetryableApiError):
    """A 200 with valid audio that lasts far less than its text takes to speak: a generation cut
    short. Retried like a transient error; the job fails with it once its attempts are spent."""

    CODE = "truncated_audio"

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message, status=200, code=self.CODE, request_id=request_id)


class FatalApiError(ApiError):
    """The API refused the request itself (400, 403, 404, 422): sending it again will not help."""


class AccountError(FatalApiError):
    """401: the API key is invalid, lacks permissions, or the account is out of quota."""


class AnswerTooLargeError(FatalApiError):
    """An answer larger than its cap: a JSON answer, or a stems ZIP whose entries inflate beyond
    the caps on size or compression ratio (a ZIP bomb). Permanent: the same request would bring
    the same archive."""

    CODE = "answer_too_large"

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message, status=200, code=self.CODE, request_id=request_id)
