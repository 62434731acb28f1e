"""The API accounts a deployment renders with, each an API key registered by name.

``ELEVENLABS_API_KEY`` is the account named ``default``; more come from the secrets file named by
``AUDIOBATCH_ACCOUNTS_FILE``, one ``name: key`` a line (``#`` starts a comment). A batch names its
account (its manifest's ``account:``, ``--account``, a submission's ``account``), else it renders
with ``default``. Keys are never stored in SQL, logged or shown: only names, and each key's
:func:`~audiobatch.backend.key_hash`.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audiobatch.backend import key_hash
from audiobatch.errors import AccountNameError, ConfigError
from audiobatch.suggestions import did_you_mean

if TYPE_CHECKING:
    from audiobatch.manifest import Manifest

DEFAULT_ACCOUNT = "default"
ACCOUNT_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
_NAME = re.compile(ACCOUNT_PATTERN)


def account_problem(value: object, known: Collection[str] | None) -> str | None:
    """Why ``value`` names no account (of ``known``; None: any well-formed name); None when it
    names one."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        return f"account {value!r} must match {ACCOUNT_PATTERN}"
    if known is not None and value not in known:
        registered = ", ".join(sorted(known)) or "none"
        return (
            f"unknown account {value!r}{did_you_mean(value, sorted(known))}; registered: "
            f"{registered} (ELEVENLABS_API_KEY is default, AUDIOBATCH_ACCOUNTS_FILE the others)"
        )
    return None


def with_account(manifest: Manifest, account: str | None, known: Collection[str]) -> Manifest:
    """The manifest rendered with ``account`` (as ``--account`` or a caller names it, one of
    ``known``) rather than its own; unchanged when None. :class:`AccountNameError` for an
    account not registered."""
    if account is None:
        return manifest
    if problem := account_problem(account, known):
        raise AccountNameError(problem)
    return manifest.model_copy(update={"account": account})


@dataclass(frozen=True)
class Accounts:
    """The registered accounts: each name's API key."""

    keys: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> list[str]:
        return sorted(self.keys)

    def key(self, name: str) -> str:
        """The API key of account ``name``; :class:`AccountNameError` for an unknown one."""
        if problem := account_problem(name, self.keys):
            raise AccountNameError(problem)
        return self.keys[name]

    def key_hash(self, name: str) -> str:
        """The hash that names account ``name``'s key in limiter keys, logs and views."""
        return key_hash(self.key(name))

    def listed(self) -> list[dict[str, str]]:
        """Each account's name and key hash (never its key), by name."""
        return [{"name": name, "key_hash": key_hash(self.keys[name])} for name in self.names]


def registered_accounts(default_key: str | None, accounts_file: Path | None) -> Accounts:
    """The accounts of ``ELEVENLABS_API_KEY`` (``default_key``) and the secrets file."""
    keys = {} if accounts_file is None else read_accounts_file(accounts_file)
    if default_key is not None:
        if DEFAULT_ACCOUNT in keys:
            raise ConfigError(
                f"{accounts_file}: account {DEFAULT_ACCOUNT!r} is ELEVENLABS_API_KEY's; name the "
                "file's accounts otherwise, or unset ELEVENLABS_API_KEY"
            )
        keys[DEFAULT_ACCOUNT] = default_key
    return Accounts(keys)


def read_accounts_file(path: Path) -> dict[str, str]:
    """Each account of the secrets file ``path`` (``name: key`` lines); :class:`ConfigError`
    naming the file and line of every problem, and for a file others may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"AUDIOBATCH_ACCOUNTS_FILE {path}: cannot read it: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"AUDIOBATCH_ACCOUNTS_FILE {path} holds API keys and others may read it: "
            f"`chmod 600 {path}`"
        )
    keys: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        name, colon, key = (part.strip() for part in entry.partition(":"))
        if not colon:
            problems.append(f"{path}:{number}: expected `name: key`")
        elif problem := account_problem(name, None):
            problems.append(f"{path}:{number}: {problem}")
        elif not key:
            problems.append(f"{path}:{number}: account {name!r} has no key")
        elif name in keys:
            problems.append(f"{path}:{number}: account {name!r} is registered twice")
        else:
            keys[name] = key
    if problems:
        raise ConfigError("; ".join(problems))
    return keys
