"""Audit a lock file's pinned versions against PyPI's vulnerability records with pip-audit.

    python scripts/audit_lock.py requirements.lock

pip-audit reads each release's record at ``https://pypi.org/pypi/NAME/VERSION/json``. Where that
does not answer (no network, or a mirror that serves the package index only), pip-audit would
count every package as "not found on PyPI" and pass. So the record of the lock's first package
is asked for first, with a short timeout: when it does not answer, the audit is skipped and a
notice says why (exit 0). When it does, pip-audit runs with ``--strict``: a package it cannot
audit fails the run, and so does a known vulnerability.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

RECORDS_URL = "https://pypi.org/pypi"
TIMEOUT_S = 5
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def first_pin(lock: Path) -> tuple[str, str]:
    """The name and version of the first package pinned in ``lock``."""
    match = PIN.search(lock.read_text())
    if match is None:
        raise SystemExit(f"{lock}: no pinned package (name==version) to audit")
    return match.group(1), match.group(2)


def unanswered(records_url: str, name: str, version: str, timeout_s: float) -> str | None:
    """Why the vulnerability record of ``name==version`` cannot be read; None when it can."""
    url = f"{records_url}/{name}/{version}/json"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            record = json.load(answer)
    except (OSError, ValueError) as exc:  # no connection, an HTTP error, a timeout, not JSON
        return f"{url}: {exc}"
    if not isinstance(record, dict) or "vulnerabilities" not in record:
        return f"{url}: the answer holds no vulnerability record"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path, help="a lock file with hashes (requirements.lock)")
    parser.add_argument(
        "--records-url",
        default=RECORDS_URL,
        help="where to ask whether the records answer (pip-audit itself always asks PyPI)",
    )
    args = parser.parse_args()
    name, version = first_pin(args.lock)
    reason = unanswered(args.records_url, name, version, TIMEOUT_S)
    if reason is not None:
        print(f"vulnerability audit skipped: PyPI's vulnerability records do not answer ({reason})")
        return 0
    audit = [
        *(sys.executable, "-m", "pip_audit", "--requirement", str(args.lock)),
        *("--require-hashes", "--disable-pip", "--strict", "--vulnerability-service", "pypi"),
        *("--timeout", str(TIMEOUT_S), "--progress-spinner", "off"),
    ]
    print(f"vulnerability audit of {args.lock} against PyPI's records", flush=True)
    return subprocess.run(audit, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
