"""TLS (wss://) with a throwaway certificate authority from ``trustme``.

Run it: ``python -m pip install trustme && python docs/snippets/tls.py``.
"""

from __future__ import annotations

import functools
import ssl

import trio
import trustme

from trio_ws import WebSocket, open_websocket_url, serve_websocket


async def hello(ws: WebSocket) -> None:
    await ws.send(f"hello over {ws.local}")


async def main() -> None:
    ca = trustme.CA()  # a test CA; in production the certificate comes from a real one

    # Server side: a certificate for the names clients will connect to.
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)

    # Client side: trust that CA (without it, verification fails).
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_websocket, hello, 0, host="127.0.0.1", ssl_context=server_context
        )
        server = await nursery.start(serve)
        url = f"wss://localhost:{server.port}/"
        async with open_websocket_url(url, ssl_context=client_context) as ws:
            print(await ws.receive())
            print("remote:", ws.remote, "is_ssl:", ws.remote and ws.remote.is_ssl)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
