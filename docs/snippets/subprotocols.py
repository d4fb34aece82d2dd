"""Subprotocols: the server picks one of those the client offers.

Run it: ``python docs/snippets/subprotocols.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import ConnectionClosed, WebSocket, open_websocket_url, serve_websocket

# By preference: the first of these that the client offered is chosen.
SUPPORTED = ("chat.v2", "chat.v1")


async def handler(ws: WebSocket) -> None:
    if ws.subprotocol is None:
        # The client offered none we speak: say why, with a policy close.
        await ws.aclose(1008, "supported subprotocols: " + ", ".join(SUPPORTED))
        return
    await ws.send(f"speaking {ws.subprotocol}")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, handler, 0, host="127.0.0.1", subprotocols=SUPPORTED
        )
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, subprotocols=["chat.v1", "chat.v2"]) as ws:
            print("chosen:", ws.subprotocol)
            print(await ws.receive())
        async with open_websocket_url(url, subprotocols=["mqtt"]) as ws:
            print("chosen:", ws.subprotocol)
            try:
                await ws.receive()  # the handler closes at once
            except ConnectionClosed as exc:
                print("closed:", exc.reason)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
