"""Client side: ``open_websocket*``, ``connect_websocket*`` and ``wrap_client_stream``.

The TCP/TLS connection and the opening handshake are done here (with the
sans-I/O core's functions); the connection after the 101 is trio_ws's.

As in trio-websocket, a failure after the TCP connection is made but before
the server's answer (the server hangs up, TLS fails, a malformed or invalid
answer) raises nothing by itself: the attempt waits until the caller's
deadline. ``open_websocket*`` then raise :exc:`ConnectionTimeout` after
``connect_timeout`` (here with the failure as ``__cause__``); the
``connect_*`` functions and ``wrap_client_stream`` wait until cancelled.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs
import trio

from .. import InvalidHandshake
from ._connection import WebSocketConnection
from ._engine import (
    TRANSPORT_ERRORS,
    encode_head,
    hidden_nursery,
    hs,
    make_options,
    read_head,
    read_rejection_body,
)
from ._engine import start_connection as _start_connection
from ._headers import OWN_REQUEST_HEADERS, OWN_RESPONSE_HEADERS, as_bytes, as_text
from ._types import (
    CONN_TIMEOUT,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    RECEIVE_BYTES,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    HandshakeError,
)

__all__ = [
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "wrap_client_stream",
]

ExtraHeaders = list[tuple[bytes, bytes]]


@attrs.frozen
class _Asked:
    """What the caller asks for, as trio-websocket's keyword arguments."""

    subprotocols: Iterable[str] | None = None
    extra_headers: ExtraHeaders | None = None
    message_queue_size: int = MESSAGE_QUEUE_SIZE
    max_message_size: int = MAX_MESSAGE_SIZE
    receive_buffer_size: int | None = RECEIVE_BYTES


class _Attempt:
    """What went wrong in an opening handshake that is waiting for its deadline."""

    __slots__ = ("failure",)

    def __init__(self) -> None:
        self.failure: BaseException | None = None


def _ssl_context_of(use_ssl: bool | ssl.SSLContext) -> ssl.SSLContext | None:
    if use_ssl is True:
        return ssl.create_default_context()
    if use_ssl is False:
        return None
    if isinstance(use_ssl, ssl.SSLContext):
        return use_ssl
    raise TypeError("`use_ssl` argument must be bool or ssl.SSLContext")


def _url_to_host(
    url: str, ssl_context: ssl.SSLContext | None
) -> tuple[str, int, str, ssl.SSLContext | bool]:
    """``(host, port, resource, use_ssl)`` for a ``ws:`` or ``wss:`` URL."""
    url = str(url)  # (yarl.URL objects are accepted too)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"not a ws: or wss: URL scheme: {url!r}")
    use_ssl: ssl.SSLContext | bool
    if ssl_context is None:
        use_ssl = parts.scheme == "wss"
    elif parts.scheme == "ws":
        raise ValueError("SSL context must be None for ws: URL scheme")
    else:
        use_ssl = ssl_context
    if parts.hostname is None:
        raise ValueError(f"no host in URL {url!r}")
    port = parts.port if parts.port is not None else (443 if use_ssl else 80)
    # RFC 7230 5.3.1: an empty path is sent as "/"; the query is kept as is.
    resource = parts.path or "/"
    if "?" in url:
        resource += "?" + parts.query
    return parts.hostname, port, resource, use_ssl


async def _handshake(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host_header: str,
    resource: str,
    asked: _Asked,
    *,
    close_timeout: float,
    attempt: _Attempt,
) -> WebSocketConnection:
    """The client's opening handshake on ``stream``, then the connection."""
    options = make_options(
        message_queue_size=asked.message_queue_size,
        max_message_size=asked.max_message_size,
        receive_buffer_size=asked.receive_buffer_size,
        close_timeout=close_timeout,
    )
    key = hs.generate_key()
    offered = tuple(asked.subprotocols or ())
    fields = [
        ("Host", host_header),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if offered:
        fields.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
    fields.extend(as_text(asked.extra_headers, leave_out=OWN_REQUEST_HEADERS))
    head = encode_head(f"GET {resource} HTTP/1.1", tuple(fields))
    try:
        await stream.send_all(head)
        reader = await read_head(stream, options.receive_size)
        if reader is None:
            raise HandshakeError("the server closed the connection unanswered")
        response = hs.parse_response(reader.head)
        if response.status_code == 101:
            accepted = hs.validate_response(response, key=key, subprotocols=offered)
    except (HandshakeError, InvalidHandshake, *TRANSPORT_ERRORS) as exc:
        # trio-websocket's client keeps waiting for an answer: so do we.
        attempt.failure = exc
        await trio.sleep_forever()
    if response.status_code != 101:
        status = response.status_code
        headers = as_bytes(response.headers)
        if status < 200:  # informational: no body, and None says so
            raise ConnectionRejected(status, headers, None)
        if status in (204, 304):  # RFC 9112 6.3: never a body
            raise ConnectionRejected(status, headers, b"")
        body = await read_rejection_body(
            stream, response, reader.trailing, options.receive_size
        )
        raise ConnectionRejected(status, headers, body)
    ws = _start_connection(
        stream,
        nursery,
        options,
        client=True,
        rendezvous=asked.message_queue_size == 0,
        subprotocol=accepted.subprotocol,
        leftover=reader.trailing,
    )
    return WebSocketConnection(
        ws,
        stream,
        path=resource,
        handshake_headers=as_bytes(response.headers, leave_out=OWN_RESPONSE_HEADERS),
    )


async def _connect(
    nursery: trio.Nursery,
    host: str,
    port: int,
    resource: str,
    use_ssl: bool | ssl.SSLContext,
    asked: _Asked,
    *,
    close_timeout: float,
    attempt: _Attempt,
) -> WebSocketConnection:
    ssl_context = _ssl_context_of(use_ssl)
    stream: trio.abc.Stream
    if ssl_context is None:
        stream = await trio.open_tcp_stream(host, port)
    else:
        stream = await trio.open_ssl_over_tcp_stream(
            host, port, ssl_context=ssl_context, https_compatible=True
        )
    host_header = host if port in (80, 443) else f"{host}:{port}"
    try:
        return await _handshake(
            nursery,
            stream,
            host_header,
            resource,
            asked,
            close_timeout=close_timeout,
            attempt=attempt,
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def connect_websocket(
    nursery: trio.Nursery,
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ExtraHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketConnection:
    """Connect to ``host:port`` and open ``resource``; background tasks run
    in ``nursery``, and the caller closes the connection.

    Args:
        use_ssl: True for TLS with a default context, an ``ssl.SSLContext``,
            or False.
        subprotocols: subprotocols to offer.
        extra_headers: more request headers, ``(name, value)`` bytes pairs
            (the handshake's own headers cannot be replaced: such names are
            left out).
        message_queue_size: messages buffered for ``get_message()``; 0: a
            message is read only when ``get_message()`` takes it.
        max_message_size: largest incoming message, in bytes; a bigger one
            closes the connection with 1009.
        receive_buffer_size: largest read from the transport (None: 64 KiB).

    Raises:
        TypeError: ``use_ssl`` is neither a bool nor an SSL context.
        OSError: the TCP connection failed.
        ConnectionRejected: the server answered with another status than 101.
    """
    asked = _Asked(
        subprotocols,
        extra_headers,
        message_queue_size,
        max_message_size,
        receive_buffer_size,
    )
    return await _connect(
        nursery,
        host,
        port,
        resource,
        use_ssl,
        asked,
        close_timeout=CONN_TIMEOUT,
        attempt=_Attempt(),
    )


async def connect_websocket_url(
    nursery: trio.Nursery,
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ExtraHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketConnection:
    """:func:`connect_websocket` for a ``ws:`` or ``wss:`` URL.

    Raises:
        ValueError: not a ws/wss URL, no host, or ``ssl_context`` with ``ws:``.
    """
    host, port, resource, use_ssl = _url_to_host(url, ssl_context)
    return await connect_websocket(
        nursery,
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
    )


async def wrap_client_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ExtraHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketConnection:
    """Run the client's opening handshake on an open stream (``host`` is sent
    as the Host header); see :func:`connect_websocket`."""
    asked = _Asked(
        subprotocols,
        extra_headers,
        message_queue_size,
        max_message_size,
        receive_buffer_size,
    )
    return await _handshake(
        nursery,
        stream,
        host,
        resource,
        asked,
        close_timeout=CONN_TIMEOUT,
        attempt=_Attempt(),
    )


async def _close(connection: WebSocketConnection, disconnect_timeout: float) -> None:
    try:
        with trio.fail_after(disconnect_timeout):
            await connection.aclose()
    except trio.TooSlowError:
        raise DisconnectionTimeout from None


@asynccontextmanager
async def open_websocket(
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ExtraHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AsyncIterator[WebSocketConnection]:
    """Connect for the duration of an ``async with`` block (see
    :func:`connect_websocket` for the arguments).

    An exception raised in the block comes out unchanged (not in an
    exception group).

    Raises:
        HandshakeError: a network error (``__cause__``: the OSError).
        ConnectionTimeout: the opening handshake took longer than
            ``connect_timeout``.
        ConnectionRejected: the server answered with another status than 101.
        DisconnectionTimeout: the closing handshake took longer than
            ``disconnect_timeout``.
    """
    asked = _Asked(
        subprotocols,
        extra_headers,
        message_queue_size,
        max_message_size,
        receive_buffer_size,
    )
    # (hidden_nursery: the block's exception leaves unchanged, never in a
    # group, and wins over a failed or cancelled close.)
    async with hidden_nursery() as nursery:
        attempt = _Attempt()
        try:
            with trio.fail_after(connect_timeout):
                connection = await _connect(
                    nursery,
                    host,
                    port,
                    resource,
                    use_ssl,
                    asked,
                    close_timeout=disconnect_timeout,
                    attempt=attempt,
                )
        except trio.TooSlowError:
            raise ConnectionTimeout from attempt.failure
        except OSError as exc:
            raise HandshakeError from exc
        try:
            yield connection
        finally:
            await _close(connection, disconnect_timeout)


def open_websocket_url(
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ExtraHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> AbstractAsyncContextManager[WebSocketConnection]:
    """:func:`open_websocket` for a ``ws:`` or ``wss:`` URL (``ssl_context``:
    for ``wss:``, a default one if None).

    Raises:
        ValueError: at once, for a URL that is not ws/wss, has no host, or
            has ``ws:`` with an ``ssl_context``.
    """
    host, port, resource, use_ssl = _url_to_host(url, ssl_context)
    return open_websocket(
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
