"""Who this process is: a name unique per process start, for leases, attempts and heartbeats.

Host and pid alone repeat: a container restarted with the same hostname runs as PID 1 again, and
would take its dead predecessor's leases for its own. A random part makes every start distinct.
"""

from __future__ import annotations

import os
import secrets
import socket

_identities: dict[int, str] = {}


def process_identity() -> str:
    """``host:pid:random``, the same for the life of this process (a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _identities:
        _identities.clear()
        _identities[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
    return _identities[pid]
