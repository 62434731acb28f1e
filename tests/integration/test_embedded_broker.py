"""The embedded filesystem broker hands out the next message as soon as a place is freed."""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from pathlib import Path

from kombu.message import Message

from audiobatch.broker import create_celery
from audiobatch.config import Settings

SLOW_POLL_S = 5.0  # a polling interval no test waits out
ACK_AFTER_S = 0.2


def test_an_acknowledgement_brings_the_next_message_without_waiting_a_poll(
    tmp_path: Path,
) -> None:
    app = create_celery(Settings(home=tmp_path / "home"))
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options, "polling_interval": SLOW_POLL_S
    }  # fmt: skip
    queue = app.amqp.queues["dialogue"]
    received: list[tuple[dict[str, int], Message]] = []
    with app.connection_for_read() as connection:
        with connection.Producer() as producer:
            for n in range(2):
                producer.publish({"n": n}, routing_key="dialogue", declare=[queue])
        channel = connection.channel()
        channel.basic_qos(0, 1, False)  # one message in hand at a time, as a worker's prefetch
        on_message = lambda body, message: received.append((body, message))  # noqa: E731
        with connection.Consumer(queue, channel=channel, callbacks=[on_message]):
            connection.drain_events(timeout=SLOW_POLL_S)
            assert len(received) == 1
            threading.Timer(ACK_AFTER_S, received[0][1].ack).start()
            started = time.monotonic()
            while len(received) < 2 and time.monotonic() - started < 3 * SLOW_POLL_S:
                with suppress(TimeoutError):  # Celery's loop drains again after a timeout
                    connection.drain_events(timeout=2.0)
            waited = time.monotonic() - started
    assert sorted(body["n"] for body, _ in received) == [0, 1]
    assert waited < ACK_AFTER_S + 1.0
