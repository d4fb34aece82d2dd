"""Reconnection: a new connection each time the server drops the last one.

Run it: ``python docs/snippets/reconnecting.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import ConnectionClosed, WebSocket, reconnecting, serve_websocket


async def flaky(ws: WebSocket) -> None:
    """Sends two ticks, then drops the connection (a server going away)."""
    for tick in range(2):
        await ws.send(f"tick {tick}")
    await ws.aclose(1001, "going away")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(serve_websocket, flaky, 0, host="127.0.0.1")
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/feed"
        async with reconnecting(url, initial_delay=0.05, max_delay=1) as connections:
            async for ws in connections:
                print("connection", connections.connections)
                try:
                    async for message in ws:  # ends when the server closes
                        print(" ", message)
                except ConnectionClosed:
                    pass  # lost without a close frame: connect again all the same
                print("  closed:", ws.closed)
                if connections.connections == 3:
                    break  # leaving the block closes the current connection
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
