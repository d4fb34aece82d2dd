"""The WebSocket client: TCP (+TLS) connect, the opening handshake, and the
``open_websocket*`` / ``connect_websocket*`` entry points."""

from __future__ import annotations

import inspect
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec

import attrs
import trio

from .._core import _handshake as hs
from .._core._deflate import DeflateParams, client_accept, client_offer
from .._core._protocol import Role
from .._core._url import WebSocketURL, parse_url
from .._exceptions import ConnectionRejected, ConnectionTimeout, InvalidHandshake
from .._http_io import read_head
from .._options import ConnectionOptions, OptionsDict, seconds
from .._scopes import hidden_nursery
from ..connection._websocket import WebSocket
from ._proxy import DIRECT, ProxyRoute
from ._redirects import DEFAULT_MAX_REDIRECTS, Hop, next_hop
from ._transport import read_refusal_body, start_tls

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "connect_websocket",
    "connect_websocket_unix",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_unix",
    "open_websocket_url",
    "wrap_client_stream",
]

Headers = Sequence[tuple[str, str]]
P = ParamSpec("P")

# Request headers that carry credentials: not sent to another origin when a
# redirect leads there (as browsers and HTTP clients do).
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})


@attrs.frozen
class ClientRequest:
    """What a client asks of the server in its opening handshake."""

    subprotocols: tuple[str, ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()
    origin: str | None = None
    options: ConnectionOptions = attrs.Factory(ConnectionOptions)
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    @classmethod
    def of(
        cls,
        subprotocols: Sequence[str],
        extra_headers: Headers,
        origin: str | None,
        options: OptionsDict,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> ClientRequest:
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise TypeError(f"max_redirects must be an int, not {max_redirects!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, not {max_redirects}")
        return cls(
            tuple(subprotocols),
            tuple(extra_headers),
            origin,
            ConnectionOptions(**options),
            max_redirects,
        )

    def for_origin(self, first: WebSocketURL, url: WebSocketURL) -> ClientRequest:
        """This request as sent to ``url`` after redirects from ``first``:
        credentials (``Authorization``, ``Cookie``) stay with ``first``'s
        origin."""
        if url.origin == first.origin:
            return self
        kept = tuple(
            (name, value)
            for name, value in self.extra_headers
            if name.lower() not in CREDENTIAL_HEADERS
        )
        return attrs.evolve(self, extra_headers=kept)


async def connect_websocket_url(
    nursery: trio.Nursery,
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    proxy: str | Literal[True] | None = True,
    proxy_ssl_context: ssl.SSLContext | None = None,
    **options: Unpack[OptionsDict],
) -> WebSocket:
    """Connect to a ``ws://`` or ``wss://`` URL; helper tasks run in ``nursery``.

    The caller must ``await ws.aclose()`` when done (or use ``async with
    ws``). See :func:`open_websocket_url` for the arguments and errors.
    """
    parsed = parse_url(url)
    asked = ClientRequest.of(
        subprotocols, extra_headers, origin, options, max_redirects
    )
    route = ProxyRoute.of(proxy, proxy_ssl_context)
    return await _connect(nursery, Hop(parsed, ssl_context), asked, route)


async def connect_websocket_unix(
    nursery: trio.Nursery,
    path: str | os.PathLike[str],
    url: str = "ws://localhost/",
    *,
    subprotocols: Sequence[str] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    **options: Unpack[OptionsDict],
) -> WebSocket:
    """Connect over the Unix domain socket at ``path``; helper tasks run in
    ``nursery``. See :func:`open_websocket_unix`."""
    parsed = parse_url(url)
    asked = ClientRequest.of(
        subprotocols, extra_headers, origin, options, max_redirects
    )
    return await _connect(nursery, Hop(parsed, ssl_context, os.fspath(path)), asked)


async def connect_websocket(
    nursery: trio.Nursery,
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext = False,
    subprotocols: Sequence[str] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    proxy: str | Literal[True] | None = True,
    proxy_ssl_context: ssl.SSLContext | None = None,
    **options: Unpack[OptionsDict],
) -> WebSocket:
    """Connect to ``host:port`` and open ``resource`` (e.g. ``"/chat?room=1"``).

    Args:
        use_ssl: True for TLS with a default verifying context, or an
            ``ssl.SSLContext``.

    Raises:
        TypeError: ``use_ssl`` is neither a bool nor an ``ssl.SSLContext``.

    See :func:`open_websocket_url` for the other arguments and errors.
    """
    if not isinstance(use_ssl, bool | ssl.SSLContext):
        raise TypeError(
            "use_ssl must be True, False or an ssl.SSLContext, "
            f"not {type(use_ssl).__name__}"
        )
    secure = use_ssl is not False
    url = WebSocketURL(
        scheme="wss" if secure else "ws",
        host=host,
        port=port,
        resource=resource or "/",
        secure=secure,
    )
    asked = ClientRequest.of(
        subprotocols, extra_headers, origin, options, max_redirects
    )
    context = use_ssl if isinstance(use_ssl, ssl.SSLContext) else None
    route = ProxyRoute.of(proxy, proxy_ssl_context)
    return await _connect(nursery, Hop(url, context), asked, route)


def _opener(
    connect: Callable[Concatenate[trio.Nursery, P], Awaitable[WebSocket]],
    name: str,
    doc: str,
) -> Callable[P, AbstractAsyncContextManager[WebSocket]]:
    """``connect`` as an async context manager with a hidden nursery, whose
    block closes the connection (1000) when it ends.

    What the block raises leaves unchanged (see _scopes.py): a user's
    exception wins over a failed or cancelled close, and an outer
    cancellation leaves as a plain ``Cancelled``.
    """

    @asynccontextmanager
    async def opened(*args: P.args, **kwargs: P.kwargs) -> AsyncIterator[WebSocket]:
        async with hidden_nursery() as nursery:
            ws = await connect(nursery, *args, **kwargs)
            async with ws:
                yield ws

    signature = inspect.signature(connect)
    opened.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:],
        return_annotation="AsyncContextManager[WebSocket]",
    )
    opened.__name__ = opened.__qualname__ = name
    opened.__doc__ = doc
    return opened


open_websocket_url = _opener(
    connect_websocket_url,
    "open_websocket_url",
    """Open a WebSocket connection for the duration of an ``async with`` block.

    ::

        async with open_websocket_url("ws://localhost:8000/chat") as ws:
            await ws.send("hello")
            print(await ws.receive())

    Leaving the block closes with 1000 and waits for the closing handshake
    (up to ``close_timeout``). An exception raised in the block leaves it
    unchanged, even when the close fails or is cancelled; an outer
    cancellation leaves as a plain ``trio.Cancelled``.

    Args:
        url: ``ws://`` or ``wss://`` URL, with optional port, path and query.
        subprotocols: subprotocols to offer; ``ws.subprotocol`` is the chosen one.
        extra_headers: more ``(name, value)`` request headers (Authorization,
            Cookie...); they may not replace the handshake's own headers.
        origin: an ``Origin`` header, if wanted.
        ssl_context: for ``wss://``; by default a verifying context from
            ``ssl.create_default_context()``.
        max_redirects: how many redirects (301, 302, 303, 307, 308 with a
            ``Location``) to follow; 0 follows none. The URL finally opened
            is ``ws.url``. A redirect from ``wss://`` to ``ws://`` is never
            followed, and ``Authorization`` and ``Cookie`` headers are not
            sent to another origin than the first URL's.
        proxy: the proxy to go through: True (the default) for the one the
            environment sets (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
            ``NO_PROXY``...), None for none, or a proxy URL:
            ``http://[user:password@]host[:port]``, ``https://...`` (TLS to
            the proxy too), ``socks5h://``, ``socks5://``, ``socks4a://``
            or ``socks4://`` (these need the ``socks`` extra). Chosen again
            for each redirect's URL. See :doc:`howto/proxies`.
        proxy_ssl_context: for an ``https://`` proxy; by default a
            verifying context from ``ssl.create_default_context()``.
        options: :class:`ConnectionOptions` fields.

    Raises:
        InvalidURL: the URL is not a ws:// or wss:// URL, or ``proxy`` is
            not a valid proxy URL.
        ImportError: a SOCKS proxy without python-socks (the ``socks`` extra).
        OSError: the TCP connection (to the server or the proxy) or a TLS
            handshake failed (the real cause, e.g. ``ConnectionRefusedError``
            or ``ssl.SSLCertVerificationError``).
        ProxyRejected: the HTTP proxy answered CONNECT with a non-2xx status
            (e.g. 407: credentials missing or wrong).
        ProxyError: the proxy failed otherwise (closed, not HTTP, a SOCKS
            refusal).
        ConnectionRejected: the server answered with a status other than 101
            (and other than a redirect that was followed).
        RedirectError: a redirect that may not be followed: more than
            ``max_redirects``, ``wss://`` to ``ws://``, or not to a WebSocket
            or HTTP URL.
        InvalidHandshake: the server's answer is not a valid 101.
        ConnectionTimeout: all of the above took longer than ``open_timeout``
            (one deadline for the whole chain of redirects).
    """,
)

open_websocket_unix = _opener(
    connect_websocket_unix,
    "open_websocket_unix",
    """Open a WebSocket over the Unix domain socket at ``path``.

    ::

        async with open_websocket_unix("/run/app.sock", "ws://app/chat") as ws:
            ...

    ``url`` gives the Host header and the resource (default
    ``ws://localhost/``); ``wss://`` runs TLS over the socket, checking the
    certificate against the URL's host. A redirect is followed only to the
    same host (the socket stays the same); to another host it raises
    :exc:`RedirectError`. Otherwise as :func:`open_websocket_url`.

    Raises:
        FileNotFoundError, ConnectionRefusedError: nothing listens at ``path``.
    """,
)

open_websocket = _opener(
    connect_websocket,
    "open_websocket",
    """Like :func:`open_websocket_url`, with host, port and resource given apart.

    Raises:
        TypeError: ``use_ssl`` is neither a bool nor an ``ssl.SSLContext``.
    """,
)


async def _connect(
    nursery: trio.Nursery, hop: Hop, asked: ClientRequest, route: ProxyRoute = DIRECT
) -> WebSocket:
    """Open the transport and run the handshake, following redirects (one
    ``open_timeout`` deadline for them all)."""
    first = hop
    with _open_deadline(
        asked.options.open_timeout, f"opening handshake with {hop.url.host_header}"
    ):
        while True:
            stream = await _open_stream(hop, route)
            try:
                accepted, params, leftover = await _client_handshake(
                    stream, hop.url, asked.for_origin(first.url, hop.url)
                )
            except ConnectionRejected as exc:
                await trio.aclose_forcefully(stream)
                hop = next_hop(first, hop, exc, asked.max_redirects)
                continue
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
            break
    return _started(
        nursery, stream, accepted, params, leftover, asked.options, url=hop.url
    )


async def _open_stream(hop: Hop, route: ProxyRoute = DIRECT) -> trio.abc.Stream:
    """TCP (or Unix socket, or a tunnel through the route's proxy) connect,
    then TLS for ``wss://``."""
    url = hop.url
    stream: trio.abc.Stream
    if hop.unix_path is not None:
        stream = await trio.open_unix_socket(hop.unix_path)
    else:
        stream = await route.open_stream(url)
    if not url.secure:
        return stream
    context = hop.ssl_context or ssl.create_default_context()
    return await start_tls(stream, context, url.host)


async def _client_handshake(
    stream: trio.abc.Stream, url: WebSocketURL, asked: ClientRequest
) -> tuple[hs.AcceptedResponse, DeflateParams | None, bytes]:
    """Send the upgrade request and check the answer.

    Returns what the server accepted, the negotiated permessage-deflate
    parameters (or None) and the bytes received after the 101.
    """
    key = hs.generate_key()
    options = asked.options
    compression = options.compression
    offers = [client_offer(compression)] if compression is not None else []
    receive_size = options.receive_size
    request = hs.build_request(
        url,
        key,
        subprotocols=asked.subprotocols,
        extensions=offers,
        extra_headers=asked.extra_headers,
        origin=asked.origin,
    )
    await stream.send_all(request)
    reader = await read_head(stream, receive_size)
    if reader is None:
        # (EOFError as the cause: a transport failure, worth a retry.)
        raise InvalidHandshake(
            "the server closed the connection during the handshake"
        ) from EOFError()
    response = hs.parse_response(reader.head)
    if response.status_code != 101:
        body = await read_refusal_body(stream, response, reader.trailing, receive_size)
        raise ConnectionRejected(response.status_code, response.headers, body)
    accepted = hs.validate_response(
        response, key=key, subprotocols=asked.subprotocols, extensions=offers
    )
    params = None
    if accepted.extensions is not None and compression is not None:
        params = client_accept(accepted.extensions, compression)
    return accepted, params, reader.trailing


def _started(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    accepted: hs.AcceptedResponse,
    params: DeflateParams | None,
    leftover: bytes,
    options: ConnectionOptions,
    *,
    url: WebSocketURL,
) -> WebSocket:
    """The client WebSocket after a 101, its helpers started in ``nursery``."""
    ws = WebSocket(
        stream,
        options.make_protocol(Role.CLIENT, params),
        options,
        subprotocol=accepted.subprotocol,
        extensions=accepted.extensions,
        leftover=leftover,
        url=str(url),
    )
    ws._start(nursery)
    return ws


async def wrap_client_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    *,
    subprotocols: Sequence[str] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
    **options: Unpack[OptionsDict],
) -> WebSocket:
    """Run the client side of the opening handshake on an existing stream.

    For custom transports (a Unix socket, a proxy tunnel) and tests.
    ``host`` goes into the Host header. Helper tasks run in ``nursery``; the
    caller owns the connection (``await ws.aclose()``). ``open_timeout``
    bounds the handshake.
    """
    asked = ClientRequest.of(subprotocols, extra_headers, origin, options)
    url = WebSocketURL(
        scheme="ws", host=host, port=80, resource=resource or "/", secure=False
    )
    with _open_deadline(asked.options.open_timeout, "opening handshake"):
        accepted, params, leftover = await _client_handshake(stream, url, asked)
    return _started(nursery, stream, accepted, params, leftover, asked.options, url=url)


@contextmanager
def _open_deadline(timeout: float | None, what: str) -> Iterator[None]:
    """Bound the opening handshake; its expiry raises ConnectionTimeout."""
    try:
        with trio.fail_after(seconds(timeout)):
            yield
    except trio.TooSlowError as exc:
        raise ConnectionTimeout(f"{what} took longer than {timeout} s") from exc
