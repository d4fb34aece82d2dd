"""The exception tree of trio_ws.

Every exception raised by trio_ws derives from :class:`WebSocketError`, and the
tree says whose fault an error is::

    WebSocketError                      catch-all root
    ├── ProtocolError
    │   ├── LocalProtocolError          the caller asked for something the protocol
    │   │                               or the connection's state forbids
    │   └── RemoteProtocolError         the peer broke the protocol (.close_code)
    ├── HandshakeError                  the opening handshake did not complete
    │   ├── ConnectionRejected          the server answered with a non-101 status
    │   │                               (.status_code, .headers, .body)
    │   ├── ConnectionTimeout           open_timeout elapsed
    │   ├── RedirectError               a redirect that may not be followed
    │   │                               (too many, wss:// to ws://...)
    │   ├── InvalidHandshake            malformed request or response
    │   │                               (.status_code: the HTTP status to answer)
    │   └── ProxyError                  the proxy did not open a tunnel to the server
    │       └── ProxyRejected           the HTTP proxy answered CONNECT with a
    │                                   non-2xx status (.status_code, .headers, .body)
    ├── InvalidURL                      also a ValueError
    └── ConnectionClosed                the connection is closed (.reason);
                                        ``__cause__`` says why when it is known

The protocol, handshake and URL errors live in the sans-I/O core
(``_core/_errors.py``); this module adds those of the I/O layers.
Trio and OS errors are translated once, where they enter trio_ws, with
``raise ... from exc`` so the original error stays reachable.
"""

from __future__ import annotations

from ._core._errors import (
    ConnectionRejected,
    HandshakeError,
    InvalidHandshake,
    InvalidURL,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    WebSocketError,
)
from ._core._events import CloseReason

__all__ = [
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "HandshakeError",
    "InvalidHandshake",
    "InvalidURL",
    "LocalProtocolError",
    "ProtocolError",
    "ProxyError",
    "ProxyRejected",
    "RedirectError",
    "RemoteProtocolError",
    "WebSocketError",
]


class ConnectionTimeout(HandshakeError):
    """The opening handshake did not complete within ``open_timeout``."""


class ProxyError(HandshakeError):
    """The proxy did not open a tunnel to the server.

    Raised when the proxy closes the connection or answers with something
    that is not HTTP, or when a SOCKS proxy refuses (bad credentials, the
    server unreachable from the proxy...). ``__cause__`` holds the underlying
    error when there is one. A proxy that cannot be reached at all raises
    the ``OSError`` of the TCP connection instead, as a server would.
    """


class ProxyRejected(ProxyError):
    """The HTTP proxy answered ``CONNECT`` with a status other than 2xx.

    For example 407 (Proxy Authentication Required: no or wrong
    credentials), 403 (the proxy forbids that destination) or 502 (the
    proxy could not reach the server).

    Attributes:
        status_code: the HTTP status code the proxy sent.
        headers: the response headers as ``(name, value)`` pairs.
        body: the response body (possibly truncated to the size limit).
    """

    def __init__(
        self,
        status_code: int,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(f"the proxy refused to open a tunnel: HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers
        self.body = body


class RedirectError(HandshakeError):
    """The server redirected the handshake somewhere the client will not go:
    past ``max_redirects``, from ``wss://`` down to ``ws://``, to a URL that
    is not a WebSocket (or HTTP) URL, or to another host while connected
    over a Unix socket.

    ``__cause__`` is the :class:`ConnectionRejected` carrying the redirect
    (its status, headers and body).

    Attributes:
        url: the URL that answered with the redirect.
        location: the ``Location`` header it sent.
    """

    def __init__(self, message: str, url: str, location: str) -> None:
        super().__init__(message)
        self.url = url
        self.location = location


class ConnectionClosed(WebSocketError):
    """The connection is closed; no more messages can be sent or received.

    Attributes:
        reason: a :class:`CloseReason` with the close code, its name and the
            reason text. ``__cause__`` holds the underlying error (a
            :class:`RemoteProtocolError`, a keepalive timeout, an OS error...)
            when the close was not a clean one.
    """

    def __init__(self, reason: CloseReason) -> None:
        super().__init__(str(reason))
        self.reason = reason
