"""The embedded broker: kombu's filesystem transport, made to hand a worker its next message as
soon as it can take one and to let it stop at once.

Celery's loop for transports without an event loop drains for up to 2 s before it checks whether
the worker is stopping, and kombu's transport sleeps a polling interval whenever nothing can be
delivered: also when messages wait in the folder but every prefetch place is taken, so each
finished task left its thread idle for up to an interval before its next message came. Here a
drain polls the folder once, then waits for a polling interval or, when sooner, the next
acknowledgement (a place freed).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

POLL_S = 0.1  # how often the folder is read for new messages (its polling interval)


class PromptChannel(filesystem.Channel):
    """A channel that tells its transport when an acknowledgement frees a prefetch place."""

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)  # type: ignore[no-untyped-call]
        self.connection.place_freed.set()

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Put a message on ``queue`` whole: written under a name no reader takes, then renamed.
        Written in place, as kombu does, a worker could take the file while it was still empty,
        fail to decode it and stop."""
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        try:
            with open(final + ".part", "wb") as partial:
                partial.write(dumps(payload).encode())  # type: ignore[no-untyped-call]
            os.replace(final + ".part", final)
        except OSError as exc:
            raise ChannelError(f"cannot add a message to {self.data_folder_out!r}") from exc


class PromptTransport(filesystem.Transport):
    """kombu's filesystem transport, each drain of which polls the folder once (see above)."""

    Channel = PromptChannel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)  # type: ignore[no-untyped-call]
        self.place_freed = threading.Event()

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Deliver one message. Between two polls of the folder wait a polling interval, or less
        when an acknowledgement frees a place; past ``timeout`` or one polling interval, whichever
        is shorter, raise TimeoutError (with no ``timeout``, go on polling)."""
        interval = self.polling_interval or 0.0
        wait_s = interval if timeout is None else min(timeout, interval)
        while True:
            self.place_freed.clear()  # an acknowledgement from now on ends the wait below
            try:
                return super().drain_events(connection, timeout=0, **kwargs)  # type: ignore[no-untyped-call]
            except TimeoutError:
                if not self.place_freed.wait(wait_s) and timeout is not None:
                    raise
