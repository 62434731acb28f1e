"""Wake-ups reach exactly the queue they are sent to, on a real Redis broker."""

from __future__ import annotations

import redis

from audiobatch.broker import create_celery, publisher, queue_depths
from audiobatch.config import Settings
from audiobatch.render.families import QUEUES


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
