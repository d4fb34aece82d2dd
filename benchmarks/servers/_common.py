"""Shared bits of the echo servers: command line, file-descriptor limit, settings.

Every server is started by ``benchmarks/run.py`` as
``python benchmarks/servers/echo_<impl>.py --port N`` and binds 127.0.0.1 only.
Compression is off and keepalive pings are off everywhere, and the message size
limit is raised to MAX_MESSAGE_SIZE so the 1 MiB echo (workload c) fits.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from collections.abc import Awaitable, Callable

HOST = "127.0.0.1"
# Larger than the biggest benchmark message (1 MiB) plus headroom.
MAX_MESSAGE_SIZE = 4 * 1024 * 1024


def raise_nofile() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (1,000 idle connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    raise_nofile()
    return args


def use_uvloop() -> str:
    """Install uvloop's policy when available; return the loop's name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


def run_asyncio_server(
    description: str,
    start_server: Callable[[int], Awaitable[asyncio.AbstractServer]],
) -> None:
    """Parse ``--port``, use uvloop when present, serve until killed."""
    args = parse_args(description)
    use_uvloop()

    async def serve() -> None:
        server = await start_server(args.port)
        await server.serve_forever()

    asyncio.run(serve())
