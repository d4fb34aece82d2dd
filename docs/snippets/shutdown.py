"""Shutdown: server.aclose(), cancellation, and handlers that fail.

Run it: ``python docs/snippets/shutdown.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import ConnectionClosed, WebSocket, open_websocket_url, serve_websocket


async def handler(ws: WebSocket) -> None:
    async for message in ws:
        if message == "boom":
            raise ValueError("a bug in the handler")  # logged, then 1011
        await ws.send(message)


async def main() -> None:
    serve = functools.partial(
        serve_websocket, handler, 0, host="127.0.0.1", close_timeout=2
    )
    async with trio.open_nursery() as nursery:
        # 1. A handler that raises closes its own connection with 1011.
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url) as ws:
            await ws.send("boom")
            try:
                await ws.receive()
            except ConnectionClosed as exc:
                print("handler raised:", exc.reason)

        # 2. server.aclose(): stop accepting, close every connection with 1001
        #    and wait (each gets up to close_timeout for its closing handshake).
        async with open_websocket_url(url) as ws:
            await server.aclose()
            async for _ in ws:  # 1001 ends the loop quietly
                pass
            print("server.aclose():", ws.closed)

        # 3. Cancelling the server's scope also says goodbye with 1001.
        async with trio.open_nursery() as server_nursery:
            server = await server_nursery.start(serve)
            client = await nursery.start(watch, f"ws://127.0.0.1:{server.port}/")
            server_nursery.cancel_scope.cancel()
        await client.wait()
        nursery.cancel_scope.cancel()


async def watch(url: str, *, task_status: trio.TaskStatus[trio.Event]) -> None:
    done = trio.Event()
    async with open_websocket_url(url) as ws:
        task_status.started(done)
        async for _ in ws:
            pass
        print("server cancelled:", ws.closed)
    done.set()


if __name__ == "__main__":
    trio.run(main)
