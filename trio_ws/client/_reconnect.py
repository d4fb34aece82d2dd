"""``reconnecting()``: a new client connection each time the last one is lost,
with exponential backoff and jitter between failed attempts.

Why ``async with`` around the ``async for``: each connection's helper tasks
(reader, keepalive) run in a nursery, and Trio forbids keeping a nursery or
cancel scope open across the ``yield`` of an async generator that is not a
context manager (python-trio/trio#638): leaving such a loop with ``break``
or an exception corrupts the task's cancel scopes. The ``async with`` owns
the nursery, so every way out of the loop is a clean one.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import trio

from .._core._errors import ConnectionRejected, InvalidHandshake
from .._exceptions import ConnectionTimeout, ProxyRejected
from .._options import OptionsDict
from .._scopes import hidden_nursery
from ..connection._websocket import WebSocket
from ._client import connect_websocket_unix, connect_websocket_url
from ._redirects import DEFAULT_MAX_REDIRECTS

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_INITIAL_DELAY",
    "DEFAULT_MAX_DELAY",
    "DEFAULT_STABLE_AFTER",
    "Reconnecting",
    "reconnecting",
]

logger = logging.getLogger("trio_ws.client")

# Backoff between failed attempts: the n-th consecutive failure waits a random
# time in [d/2, d], d = min(max_delay, initial_delay * 2 ** (n - 1)).
DEFAULT_INITIAL_DELAY = 1.0
DEFAULT_MAX_DELAY = 60.0
# A connection open at least this long resets the backoff; one lost sooner
# counts as a failure, so a server that accepts and drops at once is not
# hammered.
DEFAULT_STABLE_AFTER = 5.0


def retryable(exc: BaseException) -> bool:
    """The default ``should_retry``: True for failures worth another try.

    Retried: the transport failing (refused, reset, unreachable, DNS, the
    server closing during the handshake), ``open_timeout``, and 5xx answers
    (a proxy's too). Raised at once: any other status (4xx, a proxy's 407...),
    redirects that may not be followed, other proxy errors, TLS errors
    (certificate verification...), invalid URLs or arguments, and anything
    else.
    """
    if isinstance(exc, ConnectionRejected | ProxyRejected):
        # A proxy's 5xx (502, 504: it could not reach the server) too.
        return 500 <= exc.status_code < 600
    if isinstance(exc, ConnectionTimeout):
        return True
    if isinstance(exc, InvalidHandshake):
        return isinstance(exc.__cause__, EOFError | OSError)
    if isinstance(exc, ssl.SSLError):
        # The peer closing in the middle of the TLS handshake is a transport
        # failure; a certificate or protocol error will not go away.
        return isinstance(exc, ssl.SSLEOFError)
    return isinstance(exc, OSError | trio.BrokenResourceError)


class Reconnecting:
    """Client connections, one after another: see :func:`reconnecting`.

    Attributes:
        connections: how many connections were opened so far.
        failures: failed attempts since the last stable connection.
    """

    def __init__(
        self,
        url: str,
        *,
        initial_delay: float,
        max_delay: float,
        stable_after: float,
        max_attempts: int | None,
        should_retry: Callable[[Exception], bool],
        unix_socket: str | os.PathLike[str] | None,
        connect_kwargs: dict[str, Any],
    ) -> None:
        if not 0 < initial_delay <= max_delay:
            raise ValueError(
                f"need 0 < initial_delay <= max_delay, got {initial_delay}, {max_delay}"
            )
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, not {max_attempts}")
        self._url = url
        self._initial_delay = initial_delay
        self._max_delay = max_delay
        self._stable_after = stable_after
        self._max_attempts = max_attempts
        self._should_retry = should_retry
        self._unix_socket = unix_socket
        self._connect_kwargs = connect_kwargs
        self._manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._current: WebSocket | None = None
        self._opened_at = 0.0
        self.connections = 0
        self.failures = 0

    retryable = staticmethod(retryable)

    async def __aenter__(self) -> Reconnecting:
        if self._manager is not None:
            raise RuntimeError("reconnecting() can be entered once")
        self._manager = hidden_nursery()
        self._nursery = await self._manager.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Close the current connection (1000), then leave the nursery;
        the block's exception leaves unchanged (see _scopes.py)."""
        assert self._manager is not None
        current, self._current, self._nursery = self._current, None, None
        if current is not None:
            await current.__aexit__(exc_type, exc_value, traceback)
        return await self._manager.__aexit__(exc_type, exc_value, traceback)

    def __aiter__(self) -> Reconnecting:
        if self._nursery is None:
            raise TypeError(
                "use reconnecting() as: async with trio_ws.reconnecting(url) as "
                "connections: async for ws in connections: ... (Trio cannot keep "
                "a connection's tasks open across a bare async for)"
            )
        return self

    async def __anext__(self) -> WebSocket:
        """Close the previous connection if still open, wait out the backoff
        if due, and connect until it works or an error is not retryable."""
        nursery = self._nursery
        if nursery is None:
            raise StopAsyncIteration
        previous, self._current = self._current, None
        if previous is not None:
            await previous.aclose()
            if trio.current_time() - self._opened_at < self._stable_after:
                await self._wait(None)  # lost at once: back off before retrying
            else:
                self.failures = 0
        while True:
            try:
                ws = await self._connect(nursery)
            except Exception as exc:
                if not self._should_retry(exc):
                    raise
                attempts = self.failures + 1
                if self._max_attempts is not None and attempts >= self._max_attempts:
                    raise
                await self._wait(exc)
                continue
            self._current = ws
            self._opened_at = trio.current_time()
            self.connections += 1
            return ws

    async def _connect(self, nursery: trio.Nursery) -> WebSocket:
        if self._unix_socket is not None:
            return await connect_websocket_unix(
                nursery, self._unix_socket, self._url, **self._connect_kwargs
            )
        return await connect_websocket_url(nursery, self._url, **self._connect_kwargs)

    async def _wait(self, exc: Exception | None) -> None:
        self.failures += 1
        ceiling = min(self._max_delay, self._initial_delay * 2.0 ** (self.failures - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        why = (
            "the connection was lost soon after it opened"
            if exc is None
            else traceback.format_exception_only(exc)[-1].strip()
        )
        logger.info("%s: reconnecting in %.2f s (%s)", self._url, delay, why)
        await trio.sleep(delay)


def reconnecting(
    url: str,
    *,
    initial_delay: float = DEFAULT_INITIAL_DELAY,
    max_delay: float = DEFAULT_MAX_DELAY,
    stable_after: float = DEFAULT_STABLE_AFTER,
    max_attempts: int | None = None,
    should_retry: Callable[[Exception], bool] = retryable,
    unix_socket: str | os.PathLike[str] | None = None,
    subprotocols: Sequence[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    proxy: str | Literal[True] | None = True,
    proxy_ssl_context: ssl.SSLContext | None = None,
    **options: Unpack[OptionsDict],
) -> Reconnecting:
    """Connect to ``url`` again each time the connection is lost.

    ::

        async with trio_ws.reconnecting("wss://example.com/feed") as connections:
            async for ws in connections:
                try:
                    async for message in ws:
                        handle(message)
                except trio_ws.ConnectionClosed:
                    continue  # lost: the loop connects again

    Each turn of the loop gets a new open connection; asking for the next
    one closes the previous one (1000) if it is still open. Failed attempts
    are retried when ``should_retry(exc)`` says so, after a delay that
    doubles from ``initial_delay`` up to ``max_delay``, with jitter (a
    random time between half the delay and the delay). Leaving the block
    closes the current connection.

    Args:
        url: a ``ws://`` or ``wss://`` URL.
        initial_delay: seconds before the first retry (at most; jitter).
        max_delay: the longest wait between attempts.
        stable_after: a connection open at least this long resets the
            backoff; one lost sooner counts as a failure and is followed by
            a wait (a server that accepts and drops at once is not hammered).
        max_attempts: give up after this many failed attempts in a row,
            raising the last error (None: never give up).
        should_retry: ``(exc) -> bool``, whether an attempt's exception is
            worth another try; by default :meth:`Reconnecting.retryable`
            (refused, reset, timeouts, 5xx: yes; 4xx, TLS verification,
            invalid URL: no, raised at once).
        unix_socket: connect over this Unix domain socket (``url`` gives the
            Host and resource).
        subprotocols, extra_headers, origin, ssl_context, options: as for
            :func:`open_websocket_url` (``max_redirects``, ``proxy`` and
            ``proxy_ssl_context`` too; no proxy with ``unix_socket``).

    Raises:
        TypeError: ``async for`` without ``async with`` (see above).
        ValueError: delays not ``0 < initial_delay <= max_delay``, or
            ``max_attempts`` < 1.
        Whatever a connection attempt raises that is not retried.
    """
    connect_kwargs: dict[str, Any] = dict(
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        origin=origin,
        ssl_context=ssl_context,
        max_redirects=max_redirects,
        **options,
    )
    if unix_socket is None:
        connect_kwargs.update(proxy=proxy, proxy_ssl_context=proxy_ssl_context)
    return Reconnecting(
        url,
        initial_delay=initial_delay,
        max_delay=max_delay,
        stable_after=stable_after,
        max_attempts=max_attempts,
        should_retry=should_retry,
        unix_socket=unix_socket,
        connect_kwargs=connect_kwargs,
    )
