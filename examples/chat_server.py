"""A broadcast chat room: one port serves the HTML page and the WebSocket.

    python examples/chat_server.py [--host 127.0.0.1] [--port 8000]
        [--redis redis://127.0.0.1:6379/0]

Open the printed URL in two browser tabs and chat. ``GET /`` returns the page
(through ``process_request``); the page connects back to ``/ws`` with the
browser's WebSocket API; every message is sent to everyone in the room.

The room is a pub/sub channel: in-process (``LocalPubSub``) by default; with
``--redis URL`` (needs ``pip install 'trio_ws[redis]'``) several chat
processes, on any machines, share one room through Redis or Valkey.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import trio

from trio_ws import (
    ConnectionClosed,
    LocalPubSub,
    PubSub,
    Request,
    Response,
    Subscription,
    WebSocket,
    serve_websocket,
)

# Longest chat line accepted, in characters; longer ones are cut.
MAX_LINE = 500
# Seconds the "left" notice may take to publish as a handler ends.
LEAVE_TIMEOUT = 2.0

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>trio_ws chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
  #log p { margin: .2em 0; }
  form { display: flex; gap: .5em; margin-top: .5em; }
  #text { flex: 1; }
</style>
<h1>trio_ws chat</h1>
<p id="status">connecting…</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" autofocus>
<button>Send</button></form>
<script>
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  function show(text) {
    const p = document.createElement("p");
    p.textContent = text;
    log.appendChild(p);
    log.scrollTop = log.scrollHeight;
  }
  ws.onopen = () => { status.textContent = "connected"; };
  ws.onclose = (e) => { status.textContent = "disconnected (" + e.code + ")"; };
  ws.onmessage = (e) => show(e.data);
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    if (input.value && ws.readyState === WebSocket.OPEN) ws.send(input.value);
    input.value = "";
  };
</script>
</html>
"""


# The pub/sub channel of the room.
CHANNEL = "chat"


class ChatRoom:
    """A room on a pub/sub channel: each member subscribes and publishes.

    Args:
        pubsub: where messages go; an in-process hub by default, or a
            broker's (``open_redis_pubsub``) to share the room between
            processes.
    """

    def __init__(self, pubsub: PubSub | None = None) -> None:
        self.pubsub: PubSub = pubsub if pubsub is not None else LocalPubSub()
        self.members: set[WebSocket] = set()  # connected to this process
        self._next_id = 1

    def new_name(self) -> str:
        name = f"guest{self._next_id}"
        self._next_id += 1
        return name

    async def say(self, ws: WebSocket, text: str) -> None:
        """Publish ``text`` to the room; tell ``ws`` when the broker is away."""
        try:
            await self.pubsub.publish(CHANNEL, text)
        except ConnectionError:  # BrokerUnavailable, with --redis
            await ws.send("* not delivered: the room is unreachable, try again")

    async def forward(self, subscription: Subscription, ws: WebSocket) -> None:
        """Send what the room publishes to ``ws`` until either ends."""
        try:
            async for message in subscription:
                await ws.send(message)
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def handler(self, ws: WebSocket) -> None:
        name = self.new_name()
        async with (
            self.pubsub.subscribe(CHANNEL) as subscription,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self.forward, subscription, ws)
            self.members.add(ws)
            try:
                await self.say(ws, f"* {name} joined ({len(self.members)} here)")
                async for message in ws:
                    if isinstance(message, str):
                        await self.say(ws, f"{name}: {message[:MAX_LINE]}")
            except ConnectionClosed:
                pass
            finally:
                self.members.discard(ws)
                nursery.cancel_scope.cancel()
            with (
                trio.CancelScope(shield=True),
                trio.move_on_after(LEAVE_TIMEOUT),
                suppress(ConnectionError),
            ):
                await self.pubsub.publish(CHANNEL, f"* {name} left")


def process_request(request: Request) -> Response | None:
    """Serve the page at ``/``; let ``/ws`` upgrade; 404 for anything else."""
    if request.path == "/ws":
        return None
    if request.path in ("/", "/index.html"):
        return Response(200, (("Content-Type", "text/html; charset=utf-8"),), PAGE)
    return Response(404, body="not found\n")


@asynccontextmanager
async def open_pubsub(redis_url: str | None) -> AsyncIterator[PubSub]:
    """The room's pub/sub: Redis at ``redis_url``, or an in-process hub."""
    if redis_url is None:
        yield LocalPubSub()
        return
    from trio_ws.pubsub.redis import open_redis_pubsub

    async with open_redis_pubsub(redis_url) as hub:
        yield hub


async def main(host: str, port: int, redis_url: str | None = None) -> None:
    async with open_pubsub(redis_url) as pubsub, trio.open_nursery() as nursery:
        room = ChatRoom(pubsub)
        server = await nursery.start(
            functools.partial(
                serve_websocket,
                room.handler,
                port,
                host=host,
                process_request=process_request,
            )
        )
        shown = f"[{host}]" if ":" in host else host
        print(
            f"chat server running: open http://{shown}:{server.port}/ in a browser",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="trio_ws chat room demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share the room through Redis/Valkey, e.g. redis://127.0.0.1:6379/0",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(main, args.host, args.port, args.redis)
    except KeyboardInterrupt:
        print("bye")
