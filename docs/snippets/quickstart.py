"""Quick start: an echo server and a client, in one program.

Run it: ``python docs/snippets/quickstart.py``. It serves on a free port of
127.0.0.1, connects to it, and prints what comes back.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket


async def echo(ws: WebSocket) -> None:
    # One call per connection; returning closes it with 1000.
    async for message in ws:
        await ws.send(message)


async def client(url: str) -> None:
    async with open_websocket_url(url) as ws:
        await ws.send("hello")  # str: a text message
        print("text:", await ws.receive())
        await ws.send(b"\x00\x01")  # bytes: a binary message
        print("binary:", await ws.receive())
        latency = await ws.ping()  # waits for the pong
        print(f"ping answered in {latency * 1000:.1f} ms")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(serve_websocket, echo, 0, host="127.0.0.1")
        server = await nursery.start(serve)
        await client(f"ws://127.0.0.1:{server.port}/")
        nursery.cancel_scope.cancel()  # stop the server


if __name__ == "__main__":
    trio.run(main)
