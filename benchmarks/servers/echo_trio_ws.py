"""trio_ws echo server (the library under test)."""

from __future__ import annotations

from typing import Any

import trio
from _common import HOST, MAX_MESSAGE_SIZE, parse_args

import trio_ws


async def echo(ws: trio_ws.WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def main(*, keepalive: bool = False) -> None:
    """Serve until killed; keepalive off (as in every benchmark) or default."""
    args = parse_args(__doc__)
    options: dict[str, Any] = {} if keepalive else {"ping_interval": None}
    trio.run(
        lambda: trio_ws.serve_websocket(
            echo,
            args.port,
            host=HOST,
            max_message_size=MAX_MESSAGE_SIZE,
            **options,
        )
    )


if __name__ == "__main__":
    main()
