"""Keepalive: pings, and what a full queue does to them.

Run it: ``python docs/snippets/keepalive.py`` (about one second).
"""

from __future__ import annotations

import functools

import trio

from trio_ws import ConnectionClosed, WebSocket, open_websocket_url, serve_websocket


async def stalled(ws: WebSocket) -> None:
    # A handler that stops receiving: its queue fills up, its reader stops
    # reading the socket, and the client's pings are no longer answered.
    await trio.sleep_forever()


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, stalled, 0, host="127.0.0.1", message_queue_size=1
        )
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, ping_interval=0.2, ping_timeout=0.5) as ws:
            print(f"ping: {await ws.ping():.4f} s")  # answered: the queue is empty
            for _ in range(3):  # fill the server's queue
                await ws.send("work")
            try:
                await ws.receive()  # nothing comes; the keepalive gives up
            except ConnectionClosed as exc:
                print("closed:", exc.reason)
                print("because:", repr(exc.__cause__))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
