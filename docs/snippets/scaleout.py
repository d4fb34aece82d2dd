"""Scale-out: several servers accept on one port (reuse_port=True, Linux).

Run it: ``python docs/snippets/scaleout.py``. Two servers share one port in
this process, and the kernel spreads eight connections over them; in real
use each server is a process of its own (``examples/workers.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket


def worker_handler(name: str) -> Callable[[WebSocket], Awaitable[None]]:
    async def handler(ws: WebSocket) -> None:
        await ws.send(f"served by {name}")

    return handler


async def main() -> None:
    host = "127.0.0.1"
    async with trio.open_nursery() as nursery:
        # The first server picks a free port; the second one joins it. Both
        # set SO_REUSEPORT, which is what lets them bind the same port.
        first = await nursery.start(
            functools.partial(
                serve_websocket,
                worker_handler("worker-1"),
                0,
                host=host,
                reuse_port=True,
            )
        )
        await nursery.start(
            functools.partial(
                serve_websocket,
                worker_handler("worker-2"),
                first.port,
                host=host,
                reuse_port=True,
            )
        )
        seen = []
        for _ in range(8):
            async with open_websocket_url(f"ws://{host}:{first.port}/") as ws:
                seen.append(await ws.receive())
        print(f"{len(seen)} connections to port {first.port}, answered by:")
        for answer in sorted(set(seen)):  # the kernel's choice: a hash
            print(" ", answer)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
