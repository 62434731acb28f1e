"""Probe of a worker or scheduler pod: exit 0 while this host's audiobatch process of ROLE is live.

The process's heartbeat row says so (`audiobatch workers --json` lists the live ones; a pod's host
name is its own). Mounted from the ConfigMap ``audiobatch-probes`` and run by the image's Python:

    python /etc/audiobatch/probes/heartbeat_probe.py worker [--pass-when-unknown]

``--pass-when-unknown`` (the liveness probe) exits 0 when the heartbeats cannot be read, the
database being away: every process then looks dead, and restarting them would not bring the
database back but would cost the requests they have in flight.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys

READ_TIMEOUT_S = 15.0  # the database's connect timeout is 10 s


def live_here(rows: list[dict[str, object]], role: str, host: str) -> bool:
    """Whether ``rows`` (the ``workers --json`` shape) hold a live process of ``role`` on ``host``."""
    return any(row["host"] == host and row["role"] == role and row["live"] for row in rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["worker", "scheduler"])
    parser.add_argument("--pass-when-unknown", action="store_true")
    args = parser.parse_args(argv)
    unknown = 0 if args.pass_when_unknown else 1
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "audiobatch", "workers", "--json"],
            capture_output=True,
            text=True,
            timeout=READ_TIMEOUT_S,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"heartbeats not read: {exc}", file=sys.stderr)
        return unknown
    if live_here(json.loads(listed.stdout), args.role, socket.gethostname()):
        return 0
    print(f"no live {args.role} process on {socket.gethostname()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
