"""Whether the account can pay for manifests before they are written as batches: the check
``submit`` and ``run`` make (and :meth:`audiobatch.Client.submit`), and ``estimate`` shows."""

from __future__ import annotations

from datetime import tzinfo

from audiobatch.config import Settings
from audiobatch.elevenlabs.account import read_subscription
from audiobatch.elevenlabs.client import ElevenLabsClient, Timeouts
from audiobatch.errors import AudiobatchError, QuotaShortError
from audiobatch.estimate import AccountCheck, Estimate, estimate_manifests
from audiobatch.manifest import Manifest
from audiobatch.readable import local_time

ACCOUNT_TIMEOUTS = Timeouts(connect_s=5.0, read_s=10.0)  # an estimate never waits long on it


def check_account(settings: Settings) -> AccountCheck:
    """The key's subscription, or why it could not be read; a failed read never blocks."""
    if settings.api_key is None:
        return AccountCheck(None, "no API key: `run` renders with the built-in emulator")
    client = ElevenLabsClient(
        settings.api_url, settings.api_key.get_secret_value(), timeouts=ACCOUNT_TIMEOUTS
    )
    try:
        return AccountCheck(read_subscription(client))
    except AudiobatchError as exc:
        return AccountCheck(None, f"could not read the account: {exc}")
    finally:
        client.close()


def estimate_for(manifests: list[Manifest], settings: Settings) -> Estimate:
    return estimate_manifests(manifests, settings.credit_rates, check_account(settings))


def refuse_over(found: Estimate, zone: tzinfo) -> None:
    """Raise :class:`QuotaShortError` when the manifests need more than the account has left
    (its reset told in ``zone``)."""
    sub = found.account.subscription
    if sub is None or not found.short_by:
        return
    reset = f"; it resets at {local_time(found.next_reset, zone)}" if found.next_reset else ""
    raise QuotaShortError(
        f"the batch needs about {found.credits} credits and the account has {sub.remaining} of "
        f"{sub.character_limit} left{reset}: `--budget CHARS` caps what it spends, "
        "`--allow-over` submits it anyway (it pauses when the quota runs out)"
    )
