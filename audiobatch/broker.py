"""The Celery app: one queue per job family plus ``control`` for the reconciler tick, the firing
of schedules and housekeeping, which beat sends.

The broker only carries wake-ups ("render job N"); SQL holds the truth. Tasks are acked late and
idempotent (a claim only one worker can win), so any redelivery is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from celery import Celery
from celery.utils import uuid
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.exceptions import ChannelError, OperationalError
from kombu.utils.url import maybe_sanitize_url

from audiobatch.config import Settings
from audiobatch.db.reconcile import Publish
from audiobatch.errors import BrokerUnavailableError
from audiobatch.filesystem_broker import POLL_S, PromptTransport
from audiobatch.render.families import CONTROL_QUEUE, QUEUES

log = logging.getLogger(__name__)
JOB_QUEUES = tuple(queue for queue in QUEUES if queue != CONTROL_QUEUE)

RENDER_TASK = "audiobatch.render"
RECONCILE_TASK = "audiobatch.dispatch"  # the wire name of earlier releases, kept for mixed fleets
HOUSEKEEPING_TASK = "audiobatch.housekeeping"
SCHEDULES_TASK = "audiobatch.fire_schedules"
RECONCILE_INTERVAL_S = 0.5  # how soon a retry whose wait is over is queued again
HOUSEKEEPING_INTERVAL_S = 600.0
SCHEDULES_INTERVAL_S = 15.0  # how late after its time a schedule's slot may fire


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``' broker; tasks are registered by :mod:`audiobatch.worker.tasks`."""
    app = Celery("audiobatch", broker=settings.resolved_broker_url, set_as_current=False)
    if settings.broker_url is None:
        app.conf.update(
            broker_transport=PromptTransport,
            # the ETA timer's longest sleep, which a stopping worker waits out
            worker_timer_precision=POLL_S,
        )
    app.conf.update(
        # Each queue needs its own routing key: left out, every queue is bound with the default
        # queue's key, and each wake-up is delivered to all of them.
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],  # type: ignore[no-untyped-call]
        task_default_queue=CONTROL_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        # the reconciler's tick runs in the scheduler process itself (worker/main.py): sent to
        # the control queue, it would wait behind renders on a busy fleet and expire there
        beat_schedule={
            "schedules": {
                "task": SCHEDULES_TASK,
                "schedule": SCHEDULES_INTERVAL_S,
                "options": {"queue": CONTROL_QUEUE, "expires": SCHEDULES_INTERVAL_S},
            },
            "housekeeping": {
                "task": HOUSEKEEPING_TASK,
                "schedule": HOUSEKEEPING_INTERVAL_S,
                "options": {"queue": CONTROL_QUEUE, "expires": HOUSEKEEPING_INTERVAL_S},
            },
        },
    )
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url is None:
        folder = settings.queue_folder
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),  # else kombu writes to ./control
            "store_processed": False,
            "polling_interval": POLL_S,
        }
    if settings.broker_url.startswith(
        ("amqp", "pyamqp")
    ):  # a dead peer is found by AMQP heartbeats
        return {"connect_timeout": BROKER_TIMEOUT_S}
    # Recovery comes from SQL leases; a short visibility timeout only speeds up redelivery.
    return {
        "visibility_timeout": 600,
        "socket_timeout": BROKER_TIMEOUT_S,
        "socket_connect_timeout": BROKER_TIMEOUT_S,
        "socket_keepalive": True,
    }


BROKER_TIMEOUT_S = 30.0  # a broker that stops answering is an outage, not a hang


PUBLISH_PIPELINE = 1000
"""Wake-ups buffered before one round trip, where the broker takes them in a pipeline (Redis)."""


def publisher(app: Celery) -> Publish:
    """A function that sends one wake-up per (job id, queue), as ``send_task`` would, for
    thousands at a time.

    A submission or a tick announces many jobs at once: each message is made by Celery and
    published straight to its queue (the default exchange, routed by queue name, as Celery does
    for direct queues), each queue declared once per call, in pipelined round trips where the
    broker allows it (Redis) and one by one elsewhere.
    """
    amqp, conf = app.amqp, app.conf
    retry, policy = conf.task_publish_retry, conf.task_publish_retry_policy

    def publish(wakeups: list[tuple[int, str]]) -> None:
        try:
            send(wakeups)
        except OperationalError as exc:  # kombu's word for a broker out of reach
            raise BrokerUnavailableError(
                f"the broker at {maybe_sanitize_url(conf.broker_url)} cannot be reached ({exc}): "
                "the jobs wait queued, and the reconciler tick (`audiobatch scheduler`) announces "
                "them once it answers"
            ) from exc

    def send(wakeups: list[tuple[int, str]]) -> None:
        with app.producer_or_acquire() as producer:
            for queue in {queue for _, queue in wakeups}:
                producer.maybe_declare(amqp.queues[queue], retry=retry, **policy)
            with producer.batch(max_size=PUBLISH_PIPELINE):
                for job_id, queue in wakeups:
                    headers, properties, body, _ = amqp.create_task_message(
                        uuid(), RENDER_TASK, [job_id], {}, argsrepr=f"[{job_id}]",
                        kwargsrepr="{}", ignore_result=None,  # the task's own setting decides
                    )  # fmt: skip
                    producer.publish(
                        body, exchange="", routing_key=queue, headers=headers,
                        serializer=conf.task_serializer, declare=[],
                        retry=retry, retry_policy=policy, **properties,
                    )  # fmt: skip

    return publish


def queue_depths(app: Celery) -> Callable[[], dict[str, int]]:
    """A function telling how many wake-ups wait in each job queue (not counting those workers
    hold); an empty answer when the broker cannot be asked."""

    def depths() -> dict[str, int]:
        try:
            with app.connection_for_write() as connection:
                return {queue: _depth(connection, queue) for queue in JOB_QUEUES}
        except Exception as exc:  # any broker or transport failure: no quick republishing
            log.warning("cannot read queue depths: %s", exc)
            return {}

    return depths


def _depth(connection: Connection, queue: str) -> int:
    # a channel each: on AMQP a refused declare closes its channel
    channel = connection.channel()  # type: ignore[no-untyped-call]
    try:
        return int(channel.queue_declare(queue, passive=True).message_count)
    except ChannelError:  # no such queue, so nothing waits in it (Redis drops empty lists)
        return 0
    finally:
        with suppress(Exception):
            channel.close()
