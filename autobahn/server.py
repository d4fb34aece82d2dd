"""Autobahn server testee: an echo server for wstest's fuzzingclient.

python autobahn/server.py [--host 127.0.0.1] [--port 0] [--port-file PATH]

Every message comes back to its sender. Options are trio_ws's defaults, as a
new user gets them, except ``max_message_size``: 16 MiB, because Autobahn 9.x
sends 16 MiB messages (tests/test_autobahn_harness.py checks this, so that a
default that fails a case cannot hide behind a raised limit again). Once
listening it writes the port to ``--port-file`` (written whole, then
renamed, so readers never see half).
"""

from __future__ import annotations

import argparse
import functools
import sys

import trio

from trio_ws import ConnectionClosed, WebSocket, serve_websocket

MAX_MESSAGE_SIZE = 16 * 2**20


async def echo(ws: WebSocket) -> None:
    try:
        while True:
            await ws.send(await ws.receive())
    except ConnectionClosed:
        pass


async def main(host: str, port: int, port_file: str | None) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(
                serve_websocket,
                echo,
                port,
                host=host,
                max_message_size=MAX_MESSAGE_SIZE,
            )
        )
        print(f"trio_ws echo server on ws://{host}:{server.port}/", flush=True)
        if port_file:
            tmp = trio.Path(f"{port_file}.tmp")
            await tmp.write_text(f"{server.port}\n")
            await tmp.replace(port_file)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    try:
        trio.run(main, args.host, args.port, args.port_file)
    except KeyboardInterrupt:
        sys.exit(130)
