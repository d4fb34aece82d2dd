"""A live dashboard of the server's own metrics, drawn on a <canvas>.

    python examples/dashboard.py [--host 127.0.0.1] [--port 8000]
        [--load N] [--rate R]

Open the printed URL: the page connects back to ``/ws``, and the server
pushes a snapshot of ``server.statistics()`` every second. The page draws
the last minute of open connections, messages/s and bytes/s, and shows the
latest numbers. One port serves everything: the page (``GET /``), the
dashboard's feed (``/ws``) and an echo endpoint (``/echo``) to put load on.

Load: ``--load N`` starts N echo clients in this process, each sending
``--rate`` messages a second; or point any client at ``/echo``, e.g.
``trio-ws connect ws://127.0.0.1:8000/echo``. The page's own feed counts
too (a message a second, sent).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
from typing import Any

import trio

from trio_ws import (
    ConnectionClosed,
    Request,
    Response,
    ServerStatistics,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)

# Seconds between two snapshots pushed to each page.
PUSH_INTERVAL = 1.0
# Bytes of each load message.
LOAD_MESSAGE_SIZE = 256

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>trio_ws dashboard</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 1.5em; color: #222; }
  table { border-collapse: collapse; margin: .5em 0 1em; }
  td, th { padding: .15em .8em; text-align: right; }
  th { text-align: left; font-weight: normal; color: #555; }
  canvas { border: 1px solid #ccc; }
</style>
<h1>trio_ws dashboard</h1>
<p id="status">connecting…</p>
<table>
  <tr><th>snapshot</th><td id="seq">-</td></tr>
  <tr><th>open connections</th><td id="open">-</td></tr>
  <tr><th>handshakes accepted</th><td id="accepted">-</td></tr>
  <tr><th>messages received / sent</th>
      <td id="messages-received">-</td><td id="messages-sent">-</td></tr>
  <tr><th>bytes received / sent</th>
      <td id="bytes-received">-</td><td id="bytes-sent">-</td></tr>
  <tr><th>messages/s, bytes/s (in + out)</th>
      <td id="message-rate">-</td><td id="byte-rate">-</td></tr>
</table>
<canvas id="chart" width="720" height="390"></canvas>
<script>
  // The last minute of snapshots, oldest first.
  const WINDOW = 60;
  const snapshots = [];
  const SERIES = [
    {label: "open connections", color: "#1f5fd0", value: (s, p) => s.open_connections},
    {label: "messages/s", color: "#d02020",
     value: (s, p) => rate(s, p, "messages_received", "messages_sent")},
    {label: "bytes/s", color: "#20a040",
     value: (s, p) => rate(s, p, "bytes_received", "bytes_sent")},
  ];
  function rate(s, p, a, b) {
    if (!p || s.time <= p.time) return 0;
    return (s[a] + s[b] - p[a] - p[b]) / (s.time - p.time);
  }
  function show(id, value) { document.getElementById(id).textContent = value; }
  function draw() {
    const canvas = document.getElementById("chart");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const height = canvas.height / SERIES.length;
    SERIES.forEach((series, row) => {
      const top = row * height, left = 60, width = canvas.width - left - 10;
      const values = snapshots.map((s, i) => series.value(s, snapshots[i - 1]));
      const max = Math.max(1, ...values);
      ctx.fillStyle = "#555";
      ctx.font = "12px sans-serif";
      ctx.fillText(series.label, left, top + 14);
      ctx.fillText(Math.round(max).toString(), 4, top + 24);
      ctx.fillText("0", 4, top + height - 8);
      ctx.strokeStyle = "#ddd";
      ctx.strokeRect(left, top + 20, width, height - 30);
      if (values.length < 2) return;
      ctx.strokeStyle = series.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = left + width * (WINDOW - values.length + 1 + i) / WINDOW;
        const y = top + height - 10 - (height - 30) * v / max;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    });
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  ws.onopen = () => { show("status", "connected"); };
  ws.onclose = (e) => { show("status", "disconnected (" + e.code + ")"); };
  ws.onmessage = (e) => {
    const s = JSON.parse(e.data);
    const previous = snapshots[snapshots.length - 1];
    snapshots.push(s);
    if (snapshots.length > WINDOW + 1) snapshots.shift();
    show("seq", s.seq);
    show("open", s.open_connections);
    show("accepted", s.handshakes_accepted);
    show("messages-received", s.messages_received);
    show("messages-sent", s.messages_sent);
    show("bytes-received", s.bytes_received);
    show("bytes-sent", s.bytes_sent);
    show("message-rate", Math.round(SERIES[1].value(s, previous)));
    show("byte-rate", Math.round(SERIES[2].value(s, previous)));
    draw();
  };
  draw();
</script>
</html>
"""


def snapshot(stats: ServerStatistics, seq: int, now: float) -> dict[str, Any]:
    """What a page gets each second: the statistics' numbers, numbered."""
    return {
        "seq": seq,
        "time": now,
        "open_connections": stats.open_connections,
        "handshakes_accepted": stats.handshakes_accepted,
        "messages_received": stats.messages_received,
        "messages_sent": stats.messages_sent,
        "bytes_received": stats.bytes_received,
        "bytes_sent": stats.bytes_sent,
        "wire_bytes_received": stats.wire_bytes_received,
        "wire_bytes_sent": stats.wire_bytes_sent,
    }


class Dashboard:
    """The page, the feed and the echo endpoint of one server.

    It is the server's ``process_request`` hook; the server hands itself
    to :meth:`bind_server` when it is created (before any request).
    """

    def __init__(self) -> None:
        self.server: WebSocketServer | None = None

    def bind_server(self, server: WebSocketServer) -> None:
        self.server = server

    def __call__(self, request: Request) -> Response | None:
        if request.path in ("/ws", "/echo"):
            return None  # the WebSocket handshake
        if request.path in ("/", "/index.html"):
            return Response(200, (("Content-Type", "text/html; charset=utf-8"),), PAGE)
        return Response(404, body="not found\n")

    async def handler(self, ws: WebSocket) -> None:
        assert ws.request is not None
        if ws.request.path == "/ws":
            await self.feed(ws)
        else:
            async for message in ws:
                await ws.send(message)

    async def feed(self, ws: WebSocket) -> None:
        """A snapshot a second to one page, until it leaves."""
        assert self.server is not None
        seq = 0
        while True:
            seq += 1
            stats = self.server.statistics()
            await ws.send(json.dumps(snapshot(stats, seq, trio.current_time())))
            await trio.sleep(PUSH_INTERVAL)


async def generate_load(url: str, connections: int, rate: float) -> None:
    """``connections`` echo clients on ``url``, each sending ``rate``
    messages a second (and reading the echoes), until cancelled."""

    async def client() -> None:
        message = b"x" * LOAD_MESSAGE_SIZE
        try:
            async with open_websocket_url(url) as ws:
                while True:
                    await ws.send(message)
                    await ws.receive()
                    await trio.sleep(1 / rate)
        except (ConnectionClosed, OSError):
            pass  # the server went away

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(client)


async def serve_dashboard(
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the dashboard on ``host:port`` until cancelled."""
    dashboard = Dashboard()
    await serve_websocket(
        dashboard.handler,
        port,
        host=host,
        process_request=dashboard,
        task_status=task_status,
    )


async def main(host: str, port: int, load: int, rate: float) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(serve_dashboard, host, port))
        shown = f"[{host}]" if ":" in host else host
        print(f"dashboard: open http://{shown}:{server.port}/ in a browser", flush=True)
        if load:
            url = f"ws://{shown}:{server.port}/echo"
            nursery.start_soon(generate_load, url, load, rate)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="trio_ws live metrics dashboard")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--load", type=int, default=0, metavar="N", help="N echo clients (default 0)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=20.0,
        metavar="R",
        help="messages a second per load client (default 20)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(main, args.host, args.port, args.load, args.rate)
    except KeyboardInterrupt:
        print("bye")
