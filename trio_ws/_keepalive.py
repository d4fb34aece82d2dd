"""Keepalive: a ping every ``ping_interval`` seconds, each under a cancel scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ._exceptions import ConnectionClosed, ConnectionTimeout

if TYPE_CHECKING:
    from ._connection import WebSocket

__all__ = ["KeepaliveTimeout", "keepalive"]


class KeepaliveTimeout(ConnectionTimeout):
    """No pong arrived within ``ping_timeout``; the connection was closed with 1011."""


async def keepalive(ws: WebSocket, interval: float, pong_timeout: float | None) -> None:
    """Ping ``ws`` every ``interval`` seconds; close with 1011 on a missed pong.

    Never raises: a closed connection simply ends the loop.
    """
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(
            float("inf") if pong_timeout is None else pong_timeout
        ) as scope:
            try:
                await ws.ping()
            except ConnectionClosed:
                return
        if scope.cancelled_caught:
            await ws._fail(
                1011,
                "keepalive ping timeout",
                KeepaliveTimeout(
                    f"no pong within {pong_timeout} s of a keepalive ping"
                ),
            )
            return
