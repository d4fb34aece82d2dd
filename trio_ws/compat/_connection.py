"""``WebSocketConnection``: trio-websocket's connection object over a trio_ws one."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable

import trio

from .. import CloseReason as EngineCloseReason
from .. import ConnectionClosed as EngineClosed
from .. import LocalProtocolError, WebSocket
from ._engine import leaves
from ._types import CloseReason, ConnectionClosed, Endpoint

__all__ = ["WebSocketConnection", "compat_reason", "endpoint_of", "is_cancellation"]

Headers = tuple[tuple[bytes, bytes], ...]


def compat_reason(reason: EngineCloseReason) -> CloseReason:
    """trio-websocket's form of a close reason (an empty reason is None)."""
    return CloseReason(reason.code, reason.reason or None)


def endpoint_of(stream: trio.abc.Stream, *, local: bool) -> Endpoint | str:
    """The :class:`Endpoint` of a TCP (or TLS over TCP) stream, else its repr."""
    is_ssl = isinstance(stream, trio.SSLStream)
    inner = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if isinstance(inner, trio.SocketStream):
        try:
            name = inner.socket.getsockname() if local else inner.socket.getpeername()
            return Endpoint(name[0], name[1], is_ssl)
        except (OSError, ValueError, TypeError, IndexError):
            pass  # disconnected already, or not an IP socket
    return repr(stream)


def is_cancellation(exc: BaseException) -> bool:
    """True for trio.Cancelled, or a group holding only Cancelled."""
    return all(isinstance(leaf, trio.Cancelled) for leaf in leaves(exc))


class WebSocketConnection(trio.abc.AsyncResource):
    """A WebSocket connection, client or server side (trio-websocket's API).

    Get one from :func:`open_websocket` (and friends) or from
    ``WebSocketRequest.accept()``; it wraps a :class:`trio_ws.WebSocket`, which
    does the work. ``async with connection:`` closes it at the end.

    Attributes:
        CONNECTION_ID: the counter that numbers connections (``str(conn)``
            gives ``"client-<n>"`` or ``"server-<n>"``).
    """

    CONNECTION_ID = itertools.count()

    def __init__(
        self,
        ws: WebSocket,
        stream: trio.abc.Stream,
        *,
        path: str,
        handshake_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        self._ws = ws
        self._id = next(self.CONNECTION_ID)
        self._path = path
        self._handshake_headers: Headers = tuple(handshake_headers)
        self._local = endpoint_of(stream, local=True)
        self._remote = endpoint_of(stream, local=False)
        # The close this side started (trio-websocket reports it at once).
        self._closing: CloseReason | None = None
        # The last close reason an engine error reported.
        self._seen: CloseReason | None = None

    # ------------------------------------------------------------ properties

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection is closed or closing, or None while it is open.

        After a close this side started, the code and reason it sent;
        otherwise the peer's close frame (code 1006 when the transport ended
        without one).
        """
        if self._closing is not None:
            return self._closing
        reason = self._ws.closed
        if reason is None:
            stats = self._ws.statistics()
            if stats.state == "open":
                return None
            reason = stats.close_reason
            if reason is None:
                return self._seen or CloseReason(1006, None)
        return compat_reason(reason)

    @property
    def is_client(self) -> bool:
        """True on the client side."""
        return self._ws.is_client

    @property
    def is_server(self) -> bool:
        """True on the server side."""
        return not self._ws.is_client

    @property
    def local(self) -> Endpoint | str:
        """This end's :class:`Endpoint`, or ``repr()`` of a non-TCP stream."""
        return self._local

    @property
    def remote(self) -> Endpoint | str:
        """The peer's :class:`Endpoint`, or ``repr()`` of a non-TCP stream."""
        return self._remote

    @property
    def path(self) -> str:
        """The requested resource (path and query), e.g. ``"/chat?room=1"``."""
        return self._path

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or None."""
        return self._ws.subprotocol

    @property
    def handshake_headers(self) -> Headers:
        """On a client, the headers of the server's 101 answer other than the
        handshake's own, as ``(name, value)`` bytes with lower-case names;
        empty on a server."""
        return self._handshake_headers

    def __str__(self) -> str:
        return f"{'client' if self.is_client else 'server'}-{self._id}"

    # --------------------------------------------------------------- methods

    async def get_message(self) -> str | bytes:
        """Wait for the next message: ``str`` (text) or ``bytes`` (binary).

        Messages received before the peer closed are still returned; after a
        close this side started, waiting messages are discarded.

        Raises:
            ConnectionClosed: there is no message left and the connection is
                closed.
        """
        try:
            return await self._ws.receive()
        except EngineClosed as exc:
            raise self._closed_error(exc) from exc.__cause__

    async def send_message(self, message: str | bytes) -> None:
        """Send ``str`` as a text message, ``bytes`` as a binary one.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: ``message`` is neither str nor bytes.
        """
        if not isinstance(message, (str, bytes)):
            if self.closed is not None:
                raise ConnectionClosed(self.closed)
            raise ValueError("message must be str or bytes")
        try:
            await self._ws.send(message)
        except EngineClosed as exc:
            raise self._closed_error(exc) from exc.__cause__

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong (a pong also answers every
        earlier ping still waiting).

        Args:
            payload: up to 125 bytes, unique among pings waiting for their
                pong; None picks 4 random bytes.

        Raises:
            ConnectionClosed: the connection is closed, or closed before the
                pong came.
            ValueError: another ping with this payload is waiting.
        """
        if payload is None:
            payload = os.urandom(4)
        try:
            await self._ws.ping(payload)
        except EngineClosed as exc:
            raise self._closed_error(exc) from exc.__cause__

    async def pong(self, payload: bytes | None = None) -> None:
        """Send an unsolicited pong (``payload``: None for an empty one).

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        try:
            await self._ws.pong(payload or b"")
        except EngineClosed as exc:
            raise self._closed_error(exc) from exc.__cause__

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close: send a close frame and wait for the peer's, then close the
        transport. Idempotent.

        Called while an exception is propagating (in a ``finally:`` block or
        ``__aexit__``), a cancellation of the close does not replace that
        exception.
        """
        handling = sys.exc_info()[1] is not None
        if self._closing is None and self.closed is None:
            self._closing = CloseReason(code, reason)
        try:
            await self._ws.aclose(code, reason or "")
        except LocalProtocolError:
            self._closing = None  # (an invalid code: nothing was sent)
            raise
        except BaseException as exc:
            if handling and is_cancellation(exc):
                return  # the exception already in flight wins
            raise

    # --------------------------------------------------------------- helpers

    def _closed_error(self, exc: EngineClosed) -> ConnectionClosed:
        self._seen = compat_reason(exc.reason)
        return ConnectionClosed(self.closed or self._seen)
