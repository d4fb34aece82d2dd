"""Client proxies: which proxy a connection goes through (the ``proxy``
argument or the environment), and the tunnel through it (HTTP ``CONNECT``,
or SOCKS4/SOCKS5 through python-socks).

A tunnel is a ``trio.abc.Stream`` to the server, on which the client then
starts TLS (``wss://``) and the opening handshake as on a direct connection.
"""

from __future__ import annotations

import base64
import ssl
import urllib.parse
import urllib.request
from typing import Literal, TypeAlias

import attrs
import trio

from .._core import _handshake as hs
from .._core._errors import InvalidHandshake
from .._core._http import encode_head
from .._exceptions import InvalidURL, ProxyError, ProxyRejected
from .._http_io import read_head
from ._transport import read_refusal_body, start_tls

__all__ = [
    "DIRECT",
    "ProxyArgument",
    "ProxyRoute",
    "ProxyURL",
    "parse_proxy_url",
    "proxy_from_environment",
]

ProxyArgument: TypeAlias = "str | Literal[True] | None"
"""The ``proxy`` argument: a proxy URL, True (from the environment, the
default) or None (connect directly)."""

# Port of a proxy URL that names none: the scheme's own (curl and urllib do
# the same), 1080 for SOCKS (RFC 1928 3: the SOCKS service port).
DEFAULT_PROXY_PORTS = {
    "http": 80,
    "https": 443,
    "socks5h": 1080,
    "socks5": 1080,
    "socks4a": 1080,
    "socks4": 1080,
}

# Bytes asked of the proxy's stream per read while waiting for the answer to
# CONNECT (its head is bounded by HeadReader's MAX_HEAD_SIZE).
RECEIVE_SIZE = 16384

# The install hint of the error raised for a SOCKS proxy without python-socks.
SOCKS_EXTRA_HINT = "pip install 'trio-ws[socks]'"


@attrs.frozen
class ProxyURL:
    """A parsed proxy URL such as ``http://user:secret@proxy:3128``.

    Attributes:
        scheme: ``http``, ``https`` (TLS to the proxy), ``socks5h`` (SOCKS5,
            the proxy resolves the server's name), ``socks5`` (SOCKS5, the
            client resolves it), ``socks4a`` or ``socks4``.
        host: the proxy's host name or address (IPv6 without brackets).
        port: the proxy's port.
        username: the user name, percent-decoded; None without one.
        password: the password, percent-decoded; None without one.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    @property
    def is_socks(self) -> bool:
        """True for a SOCKS proxy, False for an HTTP(S) one."""
        return self.scheme.startswith("socks")


def parse_proxy_url(text: str) -> ProxyURL:
    """Parse a proxy URL; a bare ``host:port`` is an HTTP proxy (as in curl).

    Raises:
        InvalidURL: an unknown scheme, no host, or an invalid port.
    """
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"invalid proxy URL {text!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PROXY_PORTS:
        raise InvalidURL(
            f"unsupported proxy scheme {scheme!r} in {text!r} (expected one of "
            f"{', '.join(DEFAULT_PROXY_PORTS)})"
        )
    if not parts.hostname:
        raise InvalidURL(f"no host in proxy URL {text!r}")
    username = parts.username
    password = parts.password
    return ProxyURL(
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PROXY_PORTS[scheme],
        username=urllib.parse.unquote(username) if username is not None else None,
        password=urllib.parse.unquote(password) if password is not None else None,
    )


def proxy_from_environment(url: hs.WebSocketURL) -> str | None:
    """The proxy URL the environment sets for ``url``, or None (direct).

    ``NO_PROXY`` (and the system's bypass list on macOS and Windows) first:
    a server it names is reached directly. Then the first proxy set among,
    for ``wss://``: ``WSS_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
    ``SOCKS_PROXY``; for ``ws://``: ``WS_PROXY``, ``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``, ``SOCKS_PROXY``. Names are
    case-insensitive, the lower-case spelling winning (read by
    ``urllib.request.getproxies()``, which also reads the system's settings
    on macOS and Windows).
    """
    host = url.bracketed_host
    if urllib.request.proxy_bypass(host) or urllib.request.proxy_bypass(
        f"{host}:{url.port}"
    ):
        return None
    proxies = urllib.request.getproxies()
    order: tuple[str, ...]
    if url.secure:
        order = ("wss", "https", "all", "socks")
    else:
        order = ("ws", "http", "https", "all", "socks")
    for name in order:
        found = proxies.get(name)
        if found:
            # A SOCKS_PROXY without a scheme is a SOCKS5 proxy, not HTTP.
            if name == "socks" and "://" not in found:
                return f"socks5h://{found}"
            return found
    return None


@attrs.frozen
class ProxyRoute:
    """How a client reaches servers: its ``proxy`` argument (parsed when a
    URL), and the context for TLS to an ``https://`` proxy (None: a default
    verifying one).

    Made once per call of ``connect_websocket*``/``open_websocket*`` by
    :meth:`of`, which checks an explicit proxy URL at once;
    :meth:`open_stream` picks the proxy for each server URL, so a redirect
    to another host gets its own.
    """

    from_environment: bool = False
    explicit: ProxyURL | None = None
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def of(
        cls, proxy: ProxyArgument, ssl_context: ssl.SSLContext | None = None
    ) -> ProxyRoute:
        """The route for a ``proxy`` argument.

        Raises:
            InvalidURL: ``proxy`` is not a valid proxy URL.
            ImportError: ``proxy`` is a SOCKS proxy and python-socks (the
                ``socks`` extra) is not installed.
            TypeError: ``proxy`` is neither a string, True nor None.
        """
        if proxy is True:
            return cls(True, None, ssl_context)
        if proxy is None:
            return cls(False, None, ssl_context)
        if not isinstance(proxy, str):
            raise TypeError(
                "proxy must be a proxy URL, True (from the environment) or None, "
                f"not {proxy!r}"
            )
        parsed = parse_proxy_url(proxy)
        if parsed.is_socks:
            _import_socks()  # fail now, naming the extra
        return cls(False, parsed, ssl_context)

    def proxy_for(self, url: hs.WebSocketURL) -> ProxyURL | None:
        """The proxy to go through to reach ``url`` (None: directly)."""
        if self.from_environment:
            found = proxy_from_environment(url)
            if found is None:
                return None
            try:
                return parse_proxy_url(found)
            except InvalidURL as exc:
                raise InvalidURL(f"{exc} (from the environment)") from None
        return self.explicit

    async def open_stream(self, url: hs.WebSocketURL) -> trio.abc.Stream:
        """A TCP stream to ``url``'s host and port, through the proxy if any
        (TLS to the server, for ``wss://``, is the caller's to start)."""
        proxy = self.proxy_for(url)
        if proxy is None:
            return await trio.open_tcp_stream(url.host, url.port)
        if proxy.is_socks:
            return await open_socks_tunnel(proxy, url.host, url.port)
        return await open_http_tunnel(proxy, url.host, url.port, self.ssl_context)


DIRECT = ProxyRoute()
"""No proxy: a direct TCP connection."""


# --- HTTP CONNECT (RFC 9110 9.3.6) -----------------------------------------------


def connect_request(proxy: ProxyURL, host: str, port: int) -> bytes:
    """The ``CONNECT host:port`` request head, with ``Proxy-Authorization:
    Basic`` (RFC 7617, UTF-8) when the proxy URL carries credentials."""
    # RFC 9110 9.3.6 / 7.2: the target is authority-form host:port, an IPv6
    # address in brackets; Host repeats it.
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = [("Host", authority)]
    if proxy.username is not None or proxy.password is not None:
        credentials = f"{proxy.username or ''}:{proxy.password or ''}"
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        headers.append(("Proxy-Authorization", f"Basic {token}"))
    return encode_head(f"CONNECT {authority} HTTP/1.1", tuple(headers))


async def open_http_tunnel(
    proxy: ProxyURL,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
) -> trio.abc.Stream:
    """A tunnel to ``host:port`` through an HTTP(S) proxy.

    Raises:
        OSError: the proxy cannot be reached, or TLS to it failed.
        ProxyRejected: the proxy answered with a status other than 2xx.
        ProxyError: the proxy closed the connection or did not speak HTTP.
    """
    stream: trio.abc.Stream = await trio.open_tcp_stream(proxy.host, proxy.port)
    try:
        if proxy.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            stream = await start_tls(stream, context, proxy.host)
        await stream.send_all(connect_request(proxy, host, port))
        return await _tunnel_answer(stream)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def _tunnel_answer(stream: trio.abc.Stream) -> trio.abc.Stream:
    """Read the proxy's answer to CONNECT; the tunnel when it is a 2xx."""
    what = "the proxy's answer to CONNECT"
    try:
        reader = await read_head(stream, RECEIVE_SIZE)
        if reader is None:
            raise ProxyError("the proxy closed the connection before answering CONNECT")
        response = hs.parse_response(reader.head)
    except InvalidHandshake as exc:
        raise ProxyError(f"invalid {what}: {exc}") from exc
    except trio.BrokenResourceError as exc:
        raise ProxyError(f"the connection to the proxy broke: {exc}") from exc
    if not 200 <= response.status_code < 300:
        body = await read_refusal_body(stream, response, reader.trailing, RECEIVE_SIZE)
        raise ProxyRejected(response.status_code, response.headers, body)
    # RFC 9110 9.3.6: after a 2xx the connection is the tunnel (a 2xx to
    # CONNECT has no body). The server has not been sent anything yet, so
    # bytes already here are unexpected, but they are the server's: keep them.
    if reader.trailing:
        return PrefixedStream(stream, reader.trailing)
    return stream


class PrefixedStream(trio.abc.Stream):
    """A stream whose first received bytes are ``prefix``, then the inner
    stream's (bytes that arrived with the proxy's answer)."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self.stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return bytes(await self.stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        if not isinstance(self.stream, trio.abc.HalfCloseableStream):
            raise NotImplementedError("the proxied stream cannot half-close")
        await self.stream.send_eof()

    async def aclose(self) -> None:
        await self.stream.aclose()


# --- SOCKS (python-socks, the ``socks`` extra) ----------------------------------

# scheme -> (SOCKS version, whether the proxy resolves the server's name).
# socks5h/socks4a: the name goes to the proxy (remote DNS); socks5/socks4:
# the client resolves it and sends an address (curl's meaning of each).
_SOCKS = {
    "socks5h": (5, True),
    "socks5": (5, False),
    "socks4a": (4, True),
    "socks4": (4, False),
}


def _import_socks() -> None:
    try:
        import python_socks.async_.trio  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "a SOCKS proxy needs python-socks with its Trio backend, the socks "
            f"extra of trio-ws: {SOCKS_EXTRA_HINT}"
        ) from exc


async def open_socks_tunnel(proxy: ProxyURL, host: str, port: int) -> trio.abc.Stream:
    """A tunnel to ``host:port`` through a SOCKS proxy (python-socks).

    Raises:
        ImportError: python-socks is not installed (the ``socks`` extra).
        OSError: the proxy cannot be reached.
        ProxyError: the proxy refused (credentials, destination...) or
            broke the protocol.
    """
    _import_socks()
    import python_socks
    from python_socks.async_.trio import Proxy

    version, remote_dns = _SOCKS[proxy.scheme]
    types = python_socks.ProxyType
    kind = types.SOCKS5 if version == 5 else types.SOCKS4
    client = Proxy(
        kind,
        proxy.host,
        proxy.port,
        username=proxy.username,
        password=proxy.password,
        rdns=remote_dns,
    )
    try:
        # No timeout of python-socks' own (default 60 s): open_timeout,
        # around the whole opening, bounds this as everything else.
        sock = await client.connect(host, port, timeout=float("inf"))
    except python_socks.ProxyConnectionError:
        raise  # an OSError: the proxy itself is unreachable
    except python_socks.ProxyError as exc:
        raise ProxyError(f"the SOCKS proxy refused: {exc}") from exc
    return trio.SocketStream(sock)
