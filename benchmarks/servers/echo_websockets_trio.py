"""websockets' Trio backend echo server (``websockets.trio.server.serve``)."""

from __future__ import annotations

import logging

import trio
from _common import HOST, MAX_MESSAGE_SIZE, parse_args
from websockets.exceptions import ConnectionClosed
from websockets.trio.server import serve


async def echo(ws) -> None:  # type: ignore[no-untyped-def]
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


def main() -> None:
    args = parse_args(__doc__)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    trio.run(
        lambda: serve(
            echo,
            args.port,
            host=HOST,
            compression=None,
            ping_interval=None,
            max_size=MAX_MESSAGE_SIZE,
        )
    )


if __name__ == "__main__":
    main()
