"""Echo server: every message comes back to its sender.

python examples/echo_server.py [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import functools
import logging

import trio

from trio_ws import WebSocket, serve_websocket


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def main() -> None:
    parser = argparse.ArgumentParser(description="WebSocket echo server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--max-message-size", type=int, default=1 << 20, help="bytes (default 1 MiB)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(f"echo server on ws://{args.host}:{args.port}/", flush=True)
    serve = functools.partial(
        serve_websocket,
        echo,
        args.port,
        host=args.host,
        max_message_size=args.max_message_size,
    )
    trio.run(serve)


if __name__ == "__main__":
    main()
