"""websockets' asyncio backend echo server (outside reference; stock asyncio loop)."""

from __future__ import annotations

import asyncio
import logging

from _common import HOST, MAX_MESSAGE_SIZE, parse_args
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws) -> None:  # type: ignore[no-untyped-def]
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def amain(port: int) -> None:
    async with serve(
        echo,
        HOST,
        port,
        compression=None,
        ping_interval=None,
        max_size=MAX_MESSAGE_SIZE,
    ) as server:
        await server.serve_forever()


def main() -> None:
    args = parse_args(__doc__)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    asyncio.run(amain(args.port))


if __name__ == "__main__":
    main()
