"""Origin checks: refuse upgrades from pages of other sites with a 403.

Run it: ``python docs/snippets/origin.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import (
    ConnectionRejected,
    Request,
    Response,
    WebSocket,
    open_websocket_url,
    serve_websocket,
)

# The sites whose pages may open WebSockets to this server.
ALLOWED_ORIGINS = {"https://chat.example.com", "http://localhost:8000"}


def check_origin(request: Request) -> Response | None:
    origin = request.get("Origin")
    if origin not in ALLOWED_ORIGINS:  # a missing Origin is refused too
        return Response(403, body=f"origin {origin} is not allowed\n")
    return None  # go on with the WebSocket handshake


async def hello(ws: WebSocket) -> None:
    await ws.send("welcome")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, hello, 0, host="127.0.0.1", process_request=check_origin
        )
        server = await nursery.start(serve)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, origin="https://chat.example.com") as ws:
            print("allowed:", await ws.receive())
        try:
            async with open_websocket_url(url, origin="https://evil.example"):
                pass
        except ConnectionRejected as exc:
            print("refused:", exc.status_code, exc.body.decode().strip())
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
