"""Redirects: the client follows them; ``ws.url`` is where it landed.

Run it: ``python docs/snippets/redirects.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import (
    RedirectError,
    Request,
    Response,
    WebSocket,
    open_websocket_url,
    serve_websocket,
)


def moved(request: Request) -> Response | None:
    """The old path moved for good; /loop redirects to itself forever."""
    if request.path == "/old":
        return Response(301, (("Location", "/v2/chat"),))
    if request.path == "/loop":
        return Response(302, (("Location", "/loop"),))
    return None


async def handler(ws: WebSocket) -> None:
    assert ws.request is not None
    await ws.send(f"welcome to {ws.request.path}")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, handler, 0, host="127.0.0.1", process_request=moved
        )
        server = await nursery.start(serve)
        base = f"ws://127.0.0.1:{server.port}"
        async with open_websocket_url(f"{base}/old") as ws:
            print(await ws.receive())
            print("landed on", ws.url.replace(base, "BASE") if ws.url else None)
        try:
            async with open_websocket_url(f"{base}/loop", max_redirects=3):
                pass
        except RedirectError as exc:
            print("gave up:", str(exc).split(" (")[0])
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
