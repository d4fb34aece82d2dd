"""Plain HTTP on the WebSocket port: a health check, a page, a 401.

Run it: ``python docs/snippets/plain_http.py``.
"""

from __future__ import annotations

import functools

import trio

from trio_ws import Request, Response, WebSocket, open_websocket_url, serve_websocket

PAGE = """<!doctype html>
<script>
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (event) => document.body.append(event.data);
</script>
"""
TOKENS = {"s3cret"}


async def process_request(request: Request) -> Response | None:
    # Called for every request, before any upgrade; may be sync or async.
    if request.path == "/health":
        return Response(200, body="ok\n")
    if request.path == "/":
        return Response(200, (("Content-Type", "text/html"),), PAGE)
    if request.path == "/ws":
        if request.query.removeprefix("token=") not in TOKENS:
            # (A real check might await a database here.)
            return Response(401, body="token required\n")
        return None  # a WebSocket: go on with the upgrade
    return Response(404, body="not found\n")


async def handler(ws: WebSocket) -> None:
    await ws.send(f"hello from {ws.request and ws.request.path}")


async def http_get(port: int, target: str) -> str:
    """A minimal HTTP/1.1 client: the status line of the answer."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        await stream.send_all(request.encode())
        answer = b""
        while data := await stream.receive_some():  # the server closes after it
            answer += data
    return answer.split(b"\r\n", 1)[0].decode()


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket,
            handler,
            0,
            host="127.0.0.1",
            process_request=process_request,
        )
        server = await nursery.start(serve)
        for target in ("/health", "/", "/ws", "/nope"):
            print(target, "->", await http_get(server.port, target))
        url = f"ws://127.0.0.1:{server.port}/ws?token=s3cret"
        async with open_websocket_url(url) as ws:
            print("/ws?token=s3cret ->", await ws.receive())

        # Without a process_request hook, plain HTTP gets 426 Upgrade Required.
        bare = await nursery.start(
            functools.partial(serve_websocket, handler, 0, host="127.0.0.1")
        )
        print("no hook: / ->", await http_get(bare.port, "/"))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
