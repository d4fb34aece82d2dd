"""Minimal asyncio TCP echo (uvloop when installed): a server faster than the
load client, used to show the client's own capacity (the "client self-check")
and as the fixed server for the Trio TCP client ceiling."""

from __future__ import annotations

import asyncio

from _common import HOST, parse_args, use_uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        self.transport.close()
        return False


async def amain(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, HOST, port, backlog=4096)
    await server.serve_forever()


def main() -> None:
    args = parse_args(__doc__)
    use_uvloop()
    asyncio.run(amain(args.port))


if __name__ == "__main__":
    main()
