"""Server side: ``serve_websocket``, ``WebSocketServer``, ``WebSocketRequest``
and ``wrap_server_stream``.

trio-websocket calls the handler with the *request*: the handler accepts
(choosing the subprotocol and extra response headers) or rejects it. So the
request is read and checked here with the sans-I/O core's functions, and
``accept()`` builds the engine's connection on the upgraded stream.

Invalid upgrade requests are answered (400, or 426 for another protocol
version) and closed without calling the handler. A handler that raises
takes the server down with it, as in trio-websocket.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, NoReturn

import trio

from .. import ConnectionOptions, InvalidHandshake
from ._connection import WebSocketConnection, endpoint_of
from ._engine import (
    TRANSPORT_ERRORS,
    hs,
    make_options,
    read_request,
    start_connection,
)
from ._headers import OWN_RESPONSE_HEADERS, as_bytes, as_text
from ._types import (
    CONN_TIMEOUT,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    RECEIVE_BYTES,
    CloseReason,
    ConnectionClosed,
    Endpoint,
)

__all__ = [
    "WebSocketRequest",
    "WebSocketServer",
    "serve_websocket",
    "wrap_server_stream",
]

Handler = Callable[["WebSocketRequest"], Awaitable[None]]


# Request headers trio-websocket leaves out of ``WebSocketRequest.headers``.
_NOT_IN_REQUEST_HEADERS = frozenset(
    {"host", "sec-websocket-extensions", "sec-websocket-protocol"}
)


class _Settings:
    """What a server (or ``wrap_server_stream``) gives each connection."""

    __slots__ = (
        "max_message_size",
        "message_queue_size",
        "receive_buffer_size",
        "receive_size",
    )

    def __init__(
        self,
        message_queue_size: int,
        max_message_size: int,
        receive_buffer_size: int | None,
    ) -> None:
        self.message_queue_size = message_queue_size
        self.max_message_size = max_message_size
        self.receive_buffer_size = receive_buffer_size
        # (Also checks the values now: a bad one fails here, not per connection.)
        self.receive_size = self.options(CONN_TIMEOUT).receive_size

    def options(self, disconnect_timeout: float) -> ConnectionOptions:
        """The engine's options for one connection."""
        return make_options(
            message_queue_size=self.message_queue_size,
            max_message_size=self.max_message_size,
            receive_buffer_size=self.receive_buffer_size,
            close_timeout=disconnect_timeout,
        )


class WebSocketRequest:
    """A client's opening handshake, handed to the server's handler, which
    must :meth:`accept` or :meth:`reject` it."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        request: hs.Request,
        offer: hs.ClientOffer,
        leftover: bytes,
        nursery: trio.Nursery,
        settings: _Settings,
        disconnect_timeout: float,
    ) -> None:
        self._stream = stream
        self._request = request
        self._offer = offer
        self._leftover = leftover
        self._nursery = nursery
        self._settings = settings
        self._disconnect_timeout = disconnect_timeout
        self._answered = False
        self._connection: WebSocketConnection | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The request headers as ``(name, value)`` bytes, names in lower case
        (without Host, Sec-WebSocket-Extensions and Sec-WebSocket-Protocol)."""
        return list(as_bytes(self._request.headers, leave_out=_NOT_IN_REQUEST_HEADERS))

    @property
    def path(self) -> str:
        """The requested resource (path and query)."""
        return self._request.target

    @property
    def proposed_subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered, in its order."""
        return tuple(self._offer.subprotocols)

    @property
    def local(self) -> Endpoint | str:
        """This end's :class:`Endpoint`, or ``repr()`` of a non-TCP stream."""
        return endpoint_of(self._stream, local=True)

    @property
    def remote(self) -> Endpoint | str:
        """The client's :class:`Endpoint`, or ``repr()`` of a non-TCP stream."""
        return endpoint_of(self._stream, local=False)

    async def accept(
        self,
        *,
        subprotocol: str | None = None,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> WebSocketConnection:
        """Answer with 101 and return the connection.

        Args:
            subprotocol: one of :attr:`proposed_subprotocols`, or None.
            extra_headers: more response headers, ``(name, value)`` bytes pairs
                (the handshake's own are left out).

        Raises:
            ValueError: ``subprotocol`` was not offered.
            RuntimeError: the request was already accepted or rejected.
            ConnectionClosed: the client is gone.
        """
        self._check_unanswered()
        answer = hs.build_accept_response(
            self._offer,
            subprotocol=subprotocol,
            extra_headers=as_text(extra_headers, leave_out=OWN_RESPONSE_HEADERS),
        )
        self._answered = True
        await self._send(answer)
        ws = start_connection(
            self._stream,
            self._nursery,
            self._settings.options(self._disconnect_timeout),
            client=False,
            rendezvous=self._settings.message_queue_size == 0,
            subprotocol=subprotocol,
            request=self._request,
            leftover=self._leftover,
        )
        self._connection = WebSocketConnection(
            ws, self._stream, path=self._request.target
        )
        return self._connection

    async def reject(
        self,
        status_code: int,
        *,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer with a plain HTTP response (no upgrade) and close.

        Args:
            status_code: the HTTP status, ideally in 300-599.
            extra_headers: response headers, ``(name, value)`` bytes pairs
                (Content-Length is added for a body).
            body: the response body, if any.

        Raises:
            ValueError: a status outside 100-599, a body with a status that
                cannot have one, or a header that cannot be sent.
            RuntimeError: the request was already accepted or rejected.
            ConnectionClosed: the client is gone.
        """
        self._check_unanswered()
        answer = hs.build_http_response(
            status_code, as_text(extra_headers), body or b""
        )
        self._answered = True
        try:
            await self._send(answer)
        finally:
            await trio.aclose_forcefully(self._stream)

    def _check_unanswered(self) -> None:
        if self._answered:
            raise RuntimeError("this request was already accepted or rejected")

    async def _send(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except TRANSPORT_ERRORS as exc:
            await trio.aclose_forcefully(self._stream)
            raise ConnectionClosed(CloseReason(1006, None)) from exc

    async def _finish(self) -> None:
        """After the handler: close the connection (1000), or the stream."""
        if self._connection is not None:
            await self._connection.aclose()
        else:
            await trio.aclose_forcefully(self._stream)


async def _read_request(
    stream: trio.abc.Stream, receive_size: int
) -> tuple[hs.Request, hs.ClientOffer, bytes] | None:
    """Read and check an upgrade request; None when there is none (the client
    left, or its request was invalid: then it has been answered)."""
    try:
        received = await read_request(stream, receive_size)
        if received is None:
            return None
        request, leftover = received
        offer = hs.validate_request(request)
    except InvalidHandshake as exc:
        await _refuse(stream, exc)
        return None
    except TRANSPORT_ERRORS:
        return None
    return request, offer, leftover


async def _refuse(stream: trio.abc.Stream, exc: InvalidHandshake) -> None:
    # 400, as trio-websocket answers any invalid request, except a version
    # it does not speak: 426 with the version it does (RFC 6455 4.4).
    version_headers = [h for h in exc.headers if h[0] == "Sec-WebSocket-Version"]
    status = 426 if version_headers else 400
    body = f"{status} {exc}\n".encode()
    with contextlib.suppress(*TRANSPORT_ERRORS):
        await stream.send_all(
            hs.build_http_response(status, tuple(version_headers), body)
        )


class WebSocketServer:
    """A WebSocket server on one or more trio listeners.

    ``server = await nursery.start(serve_websocket, handler, host, port, None)``
    gives one; or build it on your own listeners and ``nursery.start(server.run)``.

    Args:
        handler: ``async def handler(request: WebSocketRequest)``, called for
            each valid upgrade request; when it returns, the connection is
            closed (1000). An exception it raises ends the server.
        listeners: trio listeners (TCP, TLS, or others).
        handler_nursery: run each connection's task there (default: inside
            the server).
        connect_timeout: seconds for a client to send its request (the TLS
            handshake included).
        disconnect_timeout: seconds for the closing handshake after the
            handler returns.

    Raises:
        ValueError: no listener.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[trio.abc.Listener[Any]],
        *,
        handler_nursery: trio.Nursery | None = None,
        message_queue_size: int = MESSAGE_QUEUE_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        receive_buffer_size: int | None = RECEIVE_BYTES,
        connect_timeout: float = CONN_TIMEOUT,
        disconnect_timeout: float = CONN_TIMEOUT,
    ) -> None:
        if len(listeners) == 0:
            raise ValueError("a WebSocketServer needs at least one listener")
        self._handler = handler
        self._listeners = list(listeners)
        self._handler_nursery = handler_nursery
        self._settings = _Settings(
            message_queue_size, max_message_size, receive_buffer_size
        )
        self._connect_timeout = connect_timeout
        self._disconnect_timeout = disconnect_timeout

    @property
    def port(self) -> int:
        """The listening port.

        Raises:
            RuntimeError: the server has several listeners, or one that is
                not a TCP listener.
        """
        if len(self._listeners) > 1:
            raise RuntimeError("this server has more than one listener: no single port")
        listener = self.listeners[0]
        if not isinstance(listener, Endpoint):
            raise RuntimeError(f"This socket does not have a port: {listener}")
        return listener.port

    @property
    def listeners(self) -> list[Endpoint | str]:
        """An :class:`Endpoint` per TCP (or TLS over TCP) listener, the
        ``repr()`` of any other."""
        return [_listener_endpoint(listener) for listener in self._listeners]

    async def run(
        self,
        *,
        task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Serve until cancelled; ``nursery.start(server.run)`` returns the
        server once it accepts connections."""
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(
                    trio.serve_listeners,
                    self._handle_connection,
                    self._listeners,
                    handler_nursery=self._handler_nursery,
                )
            )
            task_status.started(self)
            await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        # One task per connection, and one nursery in it for the connection's
        # own tasks (trio-websocket's layout).
        async with trio.open_nursery() as nursery:
            got = None
            with trio.move_on_after(self._connect_timeout):
                got = await _read_request(stream, self._settings.receive_size)
            if got is None:
                await trio.aclose_forcefully(stream)
                return
            request = WebSocketRequest(
                stream,
                *got,
                nursery,
                self._settings,
                self._disconnect_timeout,
            )
            try:
                await self._handler(request)
            finally:
                with trio.move_on_after(self._disconnect_timeout):
                    await request._finish()


def _listener_endpoint(listener: trio.abc.Listener[Any]) -> Endpoint | str:
    is_ssl = isinstance(listener, trio.SSLListener)
    inner = (
        listener.transport_listener
        if isinstance(listener, trio.SSLListener)
        else listener
    )
    if isinstance(inner, trio.SocketListener):
        name = inner.socket.getsockname()
        with contextlib.suppress(ValueError, TypeError, IndexError):
            return Endpoint(name[0], name[1], is_ssl)  # (not for a Unix socket)
    return repr(listener)


async def serve_websocket(
    handler: Handler,
    host: str | bytes | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    handler_nursery: trio.Nursery | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve WebSocket over TCP (TLS with an ``ssl_context``) until cancelled.

    ``server = await nursery.start(serve_websocket, handler, host, port,
    ssl_context)`` returns the :class:`WebSocketServer` once it listens.
    ``host=None`` binds every interface (with ``port=0`` each listener may
    get a different port). See :class:`WebSocketServer` for the rest.
    """
    listeners: Sequence[trio.abc.Listener[Any]]
    if ssl_context is None:
        listeners = await trio.open_tcp_listeners(port, host=host)
    else:
        listeners = await trio.open_ssl_over_tcp_listeners(
            port, ssl_context, host=host, https_compatible=True
        )
    server = WebSocketServer(
        handler,
        listeners,
        handler_nursery=handler_nursery,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
    await server.run(task_status=task_status)


async def wrap_server_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketRequest:
    """Read the client's upgrade request on an open stream; the caller accepts
    or rejects the returned :class:`WebSocketRequest` (the connection's tasks
    run in ``nursery``).

    As in trio-websocket, when no valid request comes (the client leaves, or
    sends an invalid one, which is answered), this waits until cancelled.
    """
    settings = _Settings(message_queue_size, max_message_size, receive_buffer_size)
    got = await _read_request(stream, settings.receive_size)
    if got is None:
        await trio.aclose_forcefully(stream)
        await trio.sleep_forever()
    return WebSocketRequest(stream, *got, nursery, settings, CONN_TIMEOUT)
