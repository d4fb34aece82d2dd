"""trio-websocket echo server (its defaults, bar the message size limit)."""

from __future__ import annotations

import trio
import trio_websocket
from _common import HOST, MAX_MESSAGE_SIZE, parse_args


async def echo(request: trio_websocket.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            message = await ws.get_message()
            await ws.send_message(message)
    except trio_websocket.ConnectionClosed:
        pass


def main() -> None:
    args = parse_args(__doc__)
    trio.run(
        lambda: trio_websocket.serve_websocket(
            echo, HOST, args.port, ssl_context=None, max_message_size=MAX_MESSAGE_SIZE
        )
    )


if __name__ == "__main__":
    main()
