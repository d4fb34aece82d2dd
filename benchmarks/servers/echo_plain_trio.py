"""Plain Trio TCP echo, no WebSocket at all: the ceiling for any Trio library."""

from __future__ import annotations

from functools import partial

import trio
from _common import HOST, parse_args


async def echo(stream: trio.SocketStream) -> None:
    try:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def main() -> None:
    args = parse_args(__doc__)
    trio.run(partial(trio.serve_tcp, echo, args.port, host=HOST))


if __name__ == "__main__":
    main()
