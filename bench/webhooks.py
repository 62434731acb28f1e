"""Webhooks: how fast one sender drains the outbox on PostgreSQL to a local receiver that
answers at once, and what a pass with nothing due costs (it runs twice a second per scheduler).

Ends ``--batches`` batches (one ``batch.ended`` event each, sent to the batch's own URL), then
times one sender draining them with ``--senders`` senders at once, then empty passes.

    .venv/bin/python bench/webhooks.py [--batches 500] [--senders 2]
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiobatch.db.batches import end_batch_if_done
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Batch, BatchStatus, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.manifest.notify import Notify
from audiobatch.webhooks.sender import SenderConfig, WebhookSender, build_client
from tests import services
from tests.state import add_batch
from tests.webhook_receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"a-bench-secret-of-24-bytes").decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()
    with ExitStack() as stack:
        server = stack.enter_context(contextmanager(services.postgres_server)())
        url = stack.enter_context(contextmanager(services.fresh_postgres_database)(server))
        receiver = Receiver([])
        stack.callback(receiver.close)
        upgrade(url)
        for number in range(args.batches):
            with session_scope(url) as session:
                add_batch(session, f"b{number}", BatchStatus.RUNNING, {"a": JobStatus.SUCCEEDED})
                session.get_one(Batch, f"b{number}").notify = Notify(receiver.url).as_json()
            with session_scope(url) as session:
                end_batch_if_done(session, f"b{number}", utcnow())
        config = SenderConfig(url, None, SECRET)
        senders = [WebhookSender(config, build_client(config), most_per_pass=10**9)]
        senders += [
            WebhookSender(config, build_client(config), most_per_pass=10**9)
            for _ in range(args.senders - 1)
        ]
        threads = [threading.Thread(target=sender) for sender in senders]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took_s = time.perf_counter() - started
        sent = len(receiver.received)
        print(
            f"{args.batches} deliveries by {args.senders} sender(s): {took_s:.2f} s, "
            f"{args.batches / took_s:.0f} deliveries/s; receiver got {sent} "
            f"({len({r.headers['webhook-id'] for r in receiver.received})} distinct)"
        )
        passes = 50
        started = time.perf_counter()
        for _ in range(passes):
            senders[0]()
        print(f"a pass with nothing due: {(time.perf_counter() - started) / passes * 1000:.1f} ms")


if __name__ == "__main__":
    main()
