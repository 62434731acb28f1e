"""Accounts registered by name: ``ELEVENLABS_API_KEY`` is ``default``, the accounts file names the
others; a manifest names its account, checked where it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.accounts import registered_accounts
from audiobatch.backend import key_hash
from audiobatch.errors import AccountNameError, ConfigError
from tests.unit.manifest.helpers import load_one, problems, write
from tests.unit.manifest.test_tags import JOBS

KNOWN = frozenset({"default", "acme"})


def secrets(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "accounts"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_default_key_and_the_file_s_accounts_are_registered_by_name(tmp_path: Path) -> None:
    path = secrets(tmp_path, "# clients\nacme: key-a\n\nglobex : key-g\n")
    accounts = registered_accounts("key-d", path)
    assert accounts.names == ["acme", "default", "globex"]
    assert accounts.key("acme") == "key-a"
    assert accounts.listed()[0] == {"name": "acme", "key_hash": key_hash("key-a")}
    assert "key-a" not in repr(accounts)


def test_an_unknown_account_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    accounts = registered_accounts("key-d", secrets(tmp_path, "acme: key-a\n"))
    with pytest.raises(AccountNameError, match=r"unknown account 'acm' \(did you mean 'acme'\?\)"):
        accounts.key("acm")


def test_each_bad_line_of_the_accounts_file_is_reported_at_its_line(tmp_path: Path) -> None:
    path = secrets(tmp_path, "acme: key-a\nBad Name: k\nempty:\nacme: again\nno colon\n")
    with pytest.raises(ConfigError) as raised:
        registered_accounts(None, path)
    message = str(raised.value)
    for line in (2, 3, 4, 5):
        assert f"{path}:{line}:" in message
    assert "key-a" not in message and "again" not in message


def test_an_accounts_file_others_may_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="chmod 600"):
        registered_accounts(None, secrets(tmp_path, "acme: key-a\n", mode=0o644))


def test_the_file_may_not_name_the_default_key_s_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'default' is ELEVENLABS_API_KEY's"):
        registered_accounts("key-d", secrets(tmp_path, "default: key-x\n"))


def test_a_manifest_names_its_account_outside_its_digest(tmp_path: Path) -> None:
    named = load_one(write(tmp_path, "m.yaml", "batch: b\naccount: acme\n" + JOBS), accounts=KNOWN)
    plain = load_one(write(tmp_path, "n.yaml", "batch: b\n" + JOBS), accounts=KNOWN)
    assert (named.account, plain.account) == ("acme", "default")
    assert named.sha256 == plain.sha256


def test_an_unknown_account_in_a_manifest_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: b\naccount: acm\n" + JOBS)
    [problem] = problems([path], accounts=KNOWN)
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "account")
    assert "unknown account 'acm' (did you mean 'acme'?)" in problem.message
