"""What a manifest says of its batch as a whole, besides its name and jobs: the tags it carries,
its priority, where its webhook events go and the account it renders with. None of it is part of the manifest's digest: the
same jobs under other settings are the same work."""

from __future__ import annotations

from dataclasses import dataclass

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.manifest.notify import Notify


@dataclass(frozen=True)
class BatchSettings:
    """A batch's settings as its manifest gives them (flags may add to or replace them)."""

    tags: tuple[str, ...] = ()  # labels to find the batch by (audiobatch.manifest.tags)
    priority: int | None = None  # audiobatch.priorities; None: as submitted, else normal
    notify: Notify | None = None  # where its webhook events go (audiobatch.manifest.notify)
    account: str = DEFAULT_ACCOUNT  # whose API key renders it (audiobatch.accounts)
