"""Minimal asyncio TCP echo (uvloop when installed): a server faster than the
load client, used to show the client's own capacity (the "client self-check")
and as the fixed server for the Trio TCP client ceiling."""

from __future__ import annotations

import asyncio

from _common import HOST, run_asyncio_server


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        self.transport.close()
        return False


def main() -> None:
    run_asyncio_server(
        __doc__,
        lambda port: asyncio.get_running_loop().create_server(
            Echo, HOST, port, backlog=4096
        ),
    )


if __name__ == "__main__":
    main()
