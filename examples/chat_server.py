"""A broadcast chat room: one port serves the HTML page and the WebSocket.

    python examples/chat_server.py [--host 127.0.0.1] [--port 8000]

Open the printed URL in two browser tabs and chat. ``GET /`` returns the page
(through ``process_request``); the page connects back to ``/ws`` with the
browser's WebSocket API; every message is sent to everyone in the room.
"""

from __future__ import annotations

import argparse
import functools
import logging

import trio

from trio_ws import ConnectionClosed, Request, Response, WebSocket, serve_websocket

# Longest chat line accepted, in characters; longer ones are cut.
MAX_LINE = 500

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


class ChatRoom:
    """Everyone connected, and a broadcast that skips members who left."""

    def __init__(self) -> None:
        self.members: set[WebSocket] = set()
        self._next_id = 1

    def new_name(self) -> str:
        name = f"guest{self._next_id}"
        self._next_id += 1
        return name

    async def broadcast(self, text: str) -> None:
        for member in list(self.members):
            try:
                await member.send(text)
            except ConnectionClosed:
                self.members.discard(member)

    async def handler(self, ws: WebSocket) -> None:
        name = self.new_name()
        self.members.add(ws)
        try:
            await self.broadcast(f"* {name} joined ({len(self.members)} here)")
            async for message in ws:
                if isinstance(message, str):
                    await self.broadcast(f"{name}: {message[:MAX_LINE]}")
        finally:
            self.members.discard(ws)
            await self.broadcast(f"* {name} left")


def process_request(request: Request) -> Response | None:
    """Serve the page at ``/``; let ``/ws`` upgrade; 404 for anything else."""
    if request.path == "/ws":
        return None
    if request.path in ("/", "/index.html"):
        return Response(200, (("Content-Type", "text/html; charset=utf-8"),), PAGE)
    return Response(404, body="not found\n")


async def main(host: str, port: int) -> None:
    room = ChatRoom()
    async with trio.open_nursery() as nursery:
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(main, args.host, args.port)
    except KeyboardInterrupt:
        print("bye")
