"""What manifests will cost before they run, and whether the account can pay for it.

Characters come from the jobs' text (:mod:`audiobatch.manifest.costs`), music minutes from their
lengths; credits price both under a :class:`CreditRates` table (``AUDIOBATCH_CREDIT_RATES``).
Voice changes and stems are billed by the length of their source audio, which is known only once
it is rendered or read: they are counted, not priced. An estimate does not know which jobs will
reuse earlier identical outputs (and cost nothing): it is what the batch costs at most.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.elevenlabs.account import Subscription
from audiobatch.manifest import Manifest
from audiobatch.manifest.batch_settings import BatchSettings
from audiobatch.manifest.costs import MS_PER_MINUTE, minutes, music_ms, text_characters
from audiobatch.manifest.episodes import job_parts
from audiobatch.manifest.schema import JobSpec

PRICED_BY_SOURCE = ("voice_change", "stems")
"""Kinds billed by the length of their source audio, unknown before it exists."""


MAX_RATE = 1_000_000.0
"""No plan bills more credits a character or a music minute: a larger rate is a mistake (and one
near the largest float makes every estimate infinite)."""


class CreditRates(BaseModel):
    """Credits billed per character of dialogue text and per minute of music.

    The defaults are eleven_v3's 1 credit a character and an assumed 1,000 credits a minute of
    music; set your plan's rates, e.g. ``AUDIOBATCH_CREDIT_RATES='{"character": 0.5}'``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    character: float = Field(default=1.0, ge=0, le=MAX_RATE, allow_inf_nan=False)
    music_minute: float = Field(default=1000.0, ge=0, le=MAX_RATE, allow_inf_nan=False)

    def credits(self, characters: int, music_ms: int) -> int:
        """The credits of ``characters`` and ``music_ms``, rounded up."""
        return math.ceil(characters * self.character + music_ms / MS_PER_MINUTE * self.music_minute)


@dataclass(frozen=True)
class BatchEstimate:
    """One manifest's cost: characters per kind, music, episodes' parts, credits."""

    batch: str
    source: str
    jobs: int
    characters_by_kind: dict[str, int]
    music_ms: int
    music_unknown: int  # music jobs whose length the API (or another job's plan) decides
    priced_by_source: int  # voice changes and stems: billed by their source's length
    parts: dict[str, int]  # episode -> the requests it is rendered in
    credits: int
    account: str = DEFAULT_ACCOUNT  # whose quota pays for it

    @property
    def characters(self) -> int:
        return sum(self.characters_by_kind.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "source": self.source,
            "jobs": self.jobs,
            "characters": self.characters,
            "characters_by_kind": self.characters_by_kind,
            "music_minutes": minutes(self.music_ms),
            "music_jobs_of_unknown_length": self.music_unknown,
            "jobs_priced_by_source": self.priced_by_source,
            "parts": self.parts,
            "credits": self.credits,
        }


class Tally:
    """One manifest's estimate, summed a job at a time: a manifest's
    :class:`~audiobatch.manifest.validate.JobFold` that keeps none of its jobs."""

    def __init__(self, rates: CreditRates) -> None:
        self.rates = rates
        self.jobs = 0
        self.characters: Counter[str] = Counter()
        self.music_ms = 0
        self.music_unknown = 0
        self.priced_by_source = 0
        self.parts: dict[str, int] = {}

    def add(self, job: JobSpec) -> None:
        spec = job.model_dump(mode="json", by_alias=True)
        self.jobs += 1
        self.characters[job.kind] += text_characters(job.kind, spec)
        length = music_ms(job.kind, spec)
        if length is None:
            self.music_unknown += 1
        else:
            self.music_ms += length
        self.priced_by_source += job.kind in PRICED_BY_SOURCE
        if (parts := job_parts(job)) is not None:
            self.parts[job.id] = len(parts)

    def result(
        self,
        batch: str,
        source: str,
        roots: Sequence[Path] = (),
        settings: BatchSettings = BatchSettings(),
    ) -> BatchEstimate:
        """The estimate of the jobs added, as the manifest ``source`` of batch ``batch`` (an
        estimate depends neither on where its sources were confined, ``roots``, nor on its
        batch's ``settings``, but for the account that pays for it)."""
        by_kind = {kind: n for kind, n in sorted(self.characters.items()) if n}
        return BatchEstimate(
            batch=batch,
            source=source,
            jobs=self.jobs,
            characters_by_kind=by_kind,
            music_ms=self.music_ms,
            music_unknown=self.music_unknown,
            priced_by_source=self.priced_by_source,
            parts=self.parts,
            credits=self.rates.credits(sum(by_kind.values()), self.music_ms),
            account=settings.account,
        )


def estimate_manifest(manifest: Manifest, rates: CreditRates) -> BatchEstimate:
    tally = Tally(rates)
    for job in manifest.jobs:
        tally.add(job)
    return tally.result(manifest.batch, manifest.source, settings=manifest.settings)


@dataclass(frozen=True)
class AccountCheck:
    """The account as read before a run, or why it could not be read."""

    subscription: Subscription | None
    unchecked: str | None = None  # why the account was not read

    def as_json(self, credits: int) -> dict[str, Any]:
        sub = self.subscription
        if sub is None:
            return {"checked": False, "reason": self.unchecked, "fits": None}
        reset = sub.next_reset_at
        return {
            "checked": True,
            "tier": sub.tier,
            "used": sub.character_count,
            "limit": sub.character_limit,
            "remaining": sub.remaining,
            "next_reset": reset.isoformat() if reset else None,
            "fits": credits <= sub.remaining,
        }


@dataclass(frozen=True)
class Estimate:
    """Every manifest's estimate, their sum, and the account's answer."""

    batches: Sequence[BatchEstimate]
    account: AccountCheck = field(default_factory=lambda: AccountCheck(None, "not asked"))

    @property
    def credits(self) -> int:
        return sum(b.credits for b in self.batches)

    @property
    def short_by(self) -> int:
        """Credits beyond what the account has left; 0 when it fits or was not read."""
        sub = self.account.subscription
        return max(0, self.credits - sub.remaining) if sub else 0

    @property
    def next_reset(self) -> datetime | None:
        sub = self.account.subscription
        return sub.next_reset_at if sub else None

    def as_json(self) -> dict[str, Any]:
        return {
            "batches": [b.as_json() for b in self.batches],
            "characters": sum(b.characters for b in self.batches),
            "music_minutes": minutes(sum(b.music_ms for b in self.batches)),
            "credits": self.credits,
            "account": self.account.as_json(self.credits),
        }


def estimate_manifests(
    manifests: Sequence[Manifest], rates: CreditRates, account: AccountCheck
) -> Estimate:
    return Estimate([estimate_manifest(m, rates) for m in manifests], account)
