"""Echo client: send each argument (or a default greeting), print the replies.

python examples/echo_client.py ws://127.0.0.1:8000/ hello world
"""

from __future__ import annotations

import sys

import trio

from trio_ws import open_websocket_url


async def main(url: str, messages: list[str]) -> None:
    async with open_websocket_url(url) as ws:
        for message in messages:
            await ws.send(message)
            print(await ws.receive())


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8000/"
    trio.run(main, url, sys.argv[2:] or ["Hello, WebSocket!"])
