"""A TCP proxy that delays what it forwards, for a kernel without ``netem``: a slow link.

    python delay_proxy.py [--delay-ms 100] LISTEN_HOST:PORT=TARGET_HOST:PORT ...

Each chunk is delivered ``--delay-ms`` after it arrived, in order, in both directions (a one-way
delay on each, as ``tc qdisc add ... netem delay`` gives), once the process has been sent
SIGUSR1; SIGUSR2 takes the delay away again. Only the standard library: it runs in a namespace
without the project on its path.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from contextlib import suppress

DELAY_S = [0.0]  # in force now


async def carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Forward what ``reader`` gives to ``writer``, each chunk held back by the delay in force."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    with suppress(OSError):
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + DELAY_S[0], data))
    queue.put_nowait((time.monotonic() + DELAY_S[0], b""))
    with suppress(OSError):
        await delivering


async def serve(listen: tuple[str, int], target: tuple[str, int]) -> asyncio.Server:
    async def connected(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(carry(client_r, upstream_w), carry(upstream_r, client_w))

    return await asyncio.start_server(connected, *listen)


def address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("routes", nargs="+", help="LISTEN_HOST:PORT=TARGET_HOST:PORT")
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, DELAY_S.__setitem__, 0, args.delay_ms / 1000)
    loop.add_signal_handler(signal.SIGUSR2, DELAY_S.__setitem__, 0, 0.0)
    for route in args.routes:
        listen, target = route.split("=")
        await serve(address(listen), address(target))
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
