"""``audiobatch estimate``: what manifests will cost, and whether the account can pay for it; and
the check ``submit`` and ``run`` make with it before they write a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from audiobatch.account_check import check_account, estimates_by_account, refuse_over
from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.cli import views
from audiobatch.cli.context import (
    JsonFlag,
    ManifestPaths,
    SetOption,
    VoicesOption,
    fold_files,
    load_settings,
)
from audiobatch.config import Settings
from audiobatch.db.submit import Spending, budget_problem
from audiobatch.errors import ConfigError
from audiobatch.estimate import Estimate, Tally
from audiobatch.manifest import Manifest

AllowOverFlag = Annotated[
    bool,
    typer.Option(
        "--allow-over", help="Submit even when the batch needs more than the account has left."
    ),
]
BudgetOption = Annotated[
    int | None,
    typer.Option("--budget", metavar="CHARS", help="Pause the batch once it has spent CHARS."),
]
ContinueAtResetFlag = Annotated[
    bool | None,
    typer.Option(
        "--continue-at-reset/--no-continue-at-reset",
        help="Paused on the quota, go on at the account's next reset "
        "(default: AUDIOBATCH_CONTINUE_AT_RESET).",
        show_default=False,
    ),
]


def spending(budget: int | None, continue_at_reset: bool | None) -> Spending:
    """What ``--budget`` and ``--continue-at-reset`` ask of a batch; a budget no batch can have
    (below one character, beyond its column) is a :class:`ConfigError`."""
    if budget is not None and (problem := budget_problem(budget)):
        raise ConfigError(f"--budget must be {problem}")
    return Spending(budget, continue_at_reset)


def estimate_files(
    paths: list[Path], voices: list[str], sets: list[str], settings: Settings
) -> Estimate:
    """What the manifests will cost, and the account's answer: each file validated with the
    flags into its estimate, without keeping its jobs. The account asked is the one every
    manifest names (the default account when they name several)."""
    batches = fold_files(paths, voices, sets, settings, lambda: Tally(settings.credit_rates))
    named = {batch.account for batch in batches}
    account = named.pop() if len(named) == 1 else DEFAULT_ACCOUNT
    return Estimate(batches, check_account(settings, account))


def preflight(
    manifests: list[Manifest], settings: Settings, console: Console, *, allow_over: bool
) -> None:
    """Before ``submit`` or ``run`` writes a batch: refuse one the account cannot pay for, unless
    ``allow_over``; say so when an account with a key could not be read."""
    keyed = settings.account_registry().keys
    for account, found in estimates_by_account(manifests, settings).items():
        if found.account.subscription is None and account in keyed:
            said = (found.account.unchecked or "").rstrip(". ")
            console.print(f"note: {said}; submitted unchecked", markup=False)
        if not allow_over:
            refuse_over(found, settings.zone, account)


def estimate(
    manifests: ManifestPaths,
    json_: JsonFlag = False,
    voices: VoicesOption = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: SetOption = [],  # noqa: B006
) -> None:
    """What manifests will cost (characters, music minutes, credits) and whether the account
    has that much left."""
    settings = load_settings()
    found = estimate_files(manifests, voices, set_, settings)
    if json_:
        views.print_json(found.as_json())
    else:
        views.print_estimate(Console(), found.as_json(), settings.zone)
