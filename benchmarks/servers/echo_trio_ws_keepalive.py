"""trio_ws echo server with the default keepalive (a ping every 20 s)."""

from __future__ import annotations

import trio
from _common import HOST, MAX_MESSAGE_SIZE, parse_args

import trio_ws


async def echo(ws: trio_ws.WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def main() -> None:
    args = parse_args(__doc__)
    trio.run(
        lambda: trio_ws.serve_websocket(
            echo, args.port, host=HOST, max_message_size=MAX_MESSAGE_SIZE
        )
    )


if __name__ == "__main__":
    main()
