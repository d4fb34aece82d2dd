"""Statistics: a snapshot of what one connection has done.

Run it: ``python docs/snippets/statistics.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def report(ws: WebSocket) -> None:
    stats = ws.statistics()  # a frozen record: call again for new numbers
    print(
        f"state={stats.state} messages sent/received="
        f"{stats.messages_sent}/{stats.messages_received}"
    )
    print(
        f"payload bytes sent={stats.bytes_sent} wire bytes sent="
        f"{stats.wire_bytes_sent} frames sent={stats.frames_sent}"
    )
    print(
        f"pings={stats.pings_sent} pongs={stats.pongs_received} "
        f"queue={stats.queued_messages}/{stats.queue_capacity}"
    )
    if stats.close_reason is not None:
        print("closed:", stats.close_reason)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(serve_websocket, echo, 0, host="127.0.0.1")
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, compression=None) as ws:
            for word in ("one", "two", "three"):
                await ws.send(word)
                await ws.receive()
            await ws.ping()
            report(ws)
        report(ws)  # after the close
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
