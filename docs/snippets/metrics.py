"""Server metrics: a snapshot of what the whole server has done.

Run it: ``python docs/snippets/metrics.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(serve_websocket, echo, 0, host="127.0.0.1")
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, compression=None) as ws:
            for word in ("one", "two", "three"):
                await ws.send(word)
                await ws.receive()
            stats = server.statistics()  # a frozen record
            print(
                f"open={stats.open_connections} messages in/out="
                f"{stats.messages_received}/{stats.messages_sent}"
            )
        # A plain HTTP request: no upgrade, so the server answers 426.
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        while await stream.receive_some():
            pass
        await stream.aclose()
        await server.aclose()  # waits for its connections to end
        stats = server.statistics()
        print(f"open={stats.open_connections} bytes in={stats.bytes_received}")
        print(f"handshakes: accepted={stats.handshakes_accepted}", end=" ")
        print(f"rejected={stats.handshakes_rejected}")
        print(f"closes: {stats.closes}")
        print(f"handshake latency: {stats.handshake_latency.count} observed")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
