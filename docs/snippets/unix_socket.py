"""A server on a Unix domain socket, and a client for it.

Run it: ``python docs/snippets/unix_socket.py``.
"""

from __future__ import annotations

import functools
import os
import tempfile

import trio

from trio_ws import WebSocket, open_websocket_unix, serve_websocket


async def handler(ws: WebSocket) -> None:
    assert ws.request is not None
    await ws.send(f"Host: {ws.request.get('host')}, path: {ws.request.path}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "app.sock")
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve_websocket, handler, unix_socket=path)
            )
            # The URL gives the Host header and the path; the socket is the way.
            async with open_websocket_unix(path, "ws://app.internal/chat") as ws:
                print(await ws.receive())
            await server.aclose()
            print("socket file removed:", not await trio.Path(path).exists())


if __name__ == "__main__":
    trio.run(main)
