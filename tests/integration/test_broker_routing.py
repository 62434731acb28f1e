"""Wake-ups reach exactly the queue they are sent to, on a real Redis broker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from audiobatch.broker import create_celery, publisher, queue_depths
from audiobatch.config import Settings
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.deployment import build_reconciler
from audiobatch.errors import BrokerUnavailableError
from audiobatch.render.families import QUEUES
from tests.services import free_port
from tests.state import add_batch


def test_a_wakeup_lands_in_its_own_queue_only(redis_url: str) -> None:
    app = create_celery(Settings(broker_url=redis_url))
    with app.connection_for_write() as connection:  # as a worker consuming every queue does
        for queue in app.amqp.queues.values():
            queue.bind(connection).declare()
    publisher(app)([(1, "dialogue"), (2, "music"), (3, "music")])
    client = redis.Redis.from_url(redis_url)
    depths = {queue: client.llen(queue) for queue in QUEUES}
    assert depths == {"dialogue": 1, "music": 2, "stems": 0, "voice": 0, "control": 0}
    assert queue_depths(app)() == {"dialogue": 1, "music": 2, "stems": 0, "voice": 0}
    client.flushdb()  # the broker restarted empty
    assert set(queue_depths(app)().values()) == {0}


def test_a_broker_out_of_reach_is_an_audiobatch_error_naming_it_without_its_password() -> None:
    app = create_celery(Settings(broker_url=f"redis://:secret@127.0.0.1:{free_port()}/0"))
    with pytest.raises(BrokerUnavailableError) as refused:
        publisher(app)([(1, "dialogue")])
    message = str(refused.value)
    assert message.startswith("the broker at redis://:**@127.0.0.1:") and "secret" not in message
    assert "the reconciler tick (`audiobatch scheduler`) announces them" in message


def test_the_reconciler_keeps_one_wakeup_per_queued_job_in_the_broker(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """Wake-ups the broker lost come back; a backlog that merely waits gets no second one."""
    upgrade(postgres_url)
    settings = Settings(
        broker_url=redis_url, database_url=postgres_url, storage_url=f"file://{tmp_path}",
        republish_after_s=1,  # where depths are known, waiting is never a reason to announce
    )  # fmt: skip
    app = create_celery(settings)
    with session_scope(postgres_url) as session:
        add_batch(
            session, "backlog", BatchStatus.QUEUED, {f"j{n}": JobStatus.QUEUED for n in range(50)}
        )
    reconcile = build_reconciler(settings, app)
    client = redis.Redis.from_url(redis_url)
    reconcile()
    assert client.llen("dialogue") == 50
    with session_scope(postgres_url) as session:  # announced long ago
        session.execute(update(Job).values(published_at=utcnow() - timedelta(hours=1)))
    for _ in range(3):
        reconcile()
        assert client.llen("dialogue") == 50
    for _ in range(7):  # lost: a broker that dropped part of a list, a worker that froze
        client.rpop("dialogue")
    reconcile()
    assert client.llen("dialogue") == 50
    client.flushdb()  # the broker restarted empty
    reconcile()  # the 7 announced a moment ago may still be on their way to a worker
    assert client.llen("dialogue") == 43
    with session_scope(postgres_url) as session:
        session.execute(update(Job).values(published_at=utcnow() - timedelta(hours=1)))
    reconcile()
    assert client.llen("dialogue") == 50
