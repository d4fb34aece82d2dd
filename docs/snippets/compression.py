"""permessage-deflate: negotiation, per-message control, what it saves.

Run it: ``python docs/snippets/compression.py``.
"""

from __future__ import annotations

import functools
import json
import os

import trio

from trio_ws import DeflateOptions, WebSocket, open_websocket_url, serve_websocket


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    # The server forgets its compression window after each message: less
    # memory per idle connection, a little less compression.
    frugal = DeflateOptions(no_context_takeover=True)
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, echo, 0, host="127.0.0.1", compression=frugal
        )
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url) as ws:  # compression="deflate"
            print("negotiated:", ws.extensions)
            update = json.dumps([{"id": n, "status": "online"} for n in range(50)])
            await ws.send(update)  # over the 128-byte threshold: compressed
            assert await ws.receive() == update
            stats = ws.statistics()
            print(
                f"JSON: {stats.bytes_sent} bytes, {stats.wire_bytes_sent} on the wire"
            )

            noise = os.urandom(4096)  # incompressible, like JPEG or gzip
            await ws.send(noise, compress=False)  # skip the useless work
            assert await ws.receive() == noise
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
