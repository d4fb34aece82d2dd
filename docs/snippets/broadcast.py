"""Broadcast through a pub/sub hub: every message reaches every client.

Run it: ``python docs/snippets/broadcast.py``. The handler only talks to a
``PubSub``; with ``LocalPubSub`` the room spans one process, with an adapter
over a broker (see the scale-out page) it spans all of them, unchanged.
"""

from __future__ import annotations

import functools
from contextlib import suppress

import trio

from trio_ws import (
    ConnectionClosed,
    LocalPubSub,
    PubSub,
    WebSocket,
    open_websocket_url,
    serve_websocket,
)


async def chat(ws: WebSocket, pubsub: PubSub) -> None:
    async with pubsub.subscribe("room") as subscription, trio.open_nursery() as nursery:

        async def forward() -> None:
            # Published messages to this client. A slow client makes its
            # subscription drop the oldest waiting message (never blocks
            # the publisher): subscription.dropped counts them.
            with suppress(ConnectionClosed):
                async for message in subscription:
                    await ws.send(message)

        nursery.start_soon(forward)
        await ws.send("welcome")  # subscribed: from now on nothing is missed
        # ConnectionClosed is caught inside the nursery, so that leaving it
        # does not wrap the exception in an ExceptionGroup.
        with suppress(ConnectionClosed):
            async for message in ws:
                await pubsub.publish("room", message)
        nursery.cancel_scope.cancel()


async def main() -> None:
    hub = LocalPubSub()
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, functools.partial(chat, pubsub=hub), 0, host="127.0.0.1"
        )
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url) as alice, open_websocket_url(url) as bob:
            # Both are subscribed once welcomed: messages published before
            # subscribing are not delivered.
            print("alice:", await alice.receive(), "/ bob:", await bob.receive())
            await alice.send("hello from alice")
            print("bob got:", await bob.receive())
            print("alice got:", await alice.receive())  # publishers hear themselves
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
