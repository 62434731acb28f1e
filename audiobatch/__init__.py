"""audiobatch: bulk audio rendering through the ElevenLabs API.

``from audiobatch import Client`` is the Python API (:mod:`audiobatch.client`); it is imported on
first use, so that ``import audiobatch`` and the command line start no slower for it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at start-up
if TYPE_CHECKING:
    from audiobatch.client import BatchStatus, Client, Output
    from audiobatch.control import Outcome

__all__ = ["BatchStatus", "Client", "Outcome", "Output"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from audiobatch import client

        return getattr(client, name)
    raise AttributeError(f"module 'audiobatch' has no attribute {name!r}")
