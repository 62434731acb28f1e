"""Whether each account can pay for manifests before they are written as batches: the check
``submit`` and ``run`` make (and :meth:`audiobatch.Client.submit`), and ``estimate`` shows."""

from __future__ import annotations

from datetime import tzinfo

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.config import Settings
from audiobatch.elevenlabs.account import read_subscription
from audiobatch.elevenlabs.client import ElevenLabsClient, Timeouts
from audiobatch.errors import AudiobatchError, QuotaShortError
from audiobatch.estimate import AccountCheck, Estimate, estimate_manifests
from audiobatch.manifest import Manifest
from audiobatch.readable import local_time

# an estimate never waits long on it
ACCOUNT_TIMEOUTS = Timeouts(connect_s=5.0, read_s=10.0, json_answer_s=5.0)


def check_account(settings: Settings, account: str = DEFAULT_ACCOUNT) -> AccountCheck:
    """The subscription of ``account``'s key, or why it could not be read; a failed read never
    blocks."""
    registry = settings.account_registry()
    if account not in registry.keys:
        if account == DEFAULT_ACCOUNT:
            return AccountCheck(None, "no API key: `run` renders with the built-in emulator")
        return AccountCheck(None, f"account {account!r} is not registered here")
    client = ElevenLabsClient(settings.api_url, registry.key(account), timeouts=ACCOUNT_TIMEOUTS)
    try:
        return AccountCheck(read_subscription(client))
    except AudiobatchError as exc:
        return AccountCheck(None, f"could not read the account at {settings.api_url}: {exc}")
    finally:
        client.close()


def estimates_by_account(manifests: list[Manifest], settings: Settings) -> dict[str, Estimate]:
    """The manifests' estimate against each account they render with (each read once)."""
    named: dict[str, list[Manifest]] = {}
    for manifest in manifests:
        named.setdefault(manifest.account, []).append(manifest)
    return {
        account: estimate_manifests(own, settings.credit_rates, check_account(settings, account))
        for account, own in named.items()
    }


def refuse_over(found: Estimate, zone: tzinfo, account: str = DEFAULT_ACCOUNT) -> None:
    """Raise :class:`QuotaShortError` when the manifests need more than ``account`` has left
    (its reset told in ``zone``)."""
    sub = found.account.subscription
    if sub is None or not found.short_by:
        return
    reset = f"; it resets at {local_time(found.next_reset, zone)}" if found.next_reset else ""
    whose = "the account" if account == DEFAULT_ACCOUNT else f"account {account!r}"
    raise QuotaShortError(
        f"the batch needs about {found.credits} credits and {whose} has {sub.remaining} of "
        f"{sub.character_limit} left{reset}: `--budget CHARS` caps what it spends, "
        "`--allow-over` submits it anyway (it pauses when the quota runs out)"
    )
