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
    │   └── InvalidHandshake            malformed request or response
    │                                   (.status_code: the HTTP status to answer)
    ├── InvalidURL                      also a ValueError
    └── ConnectionClosed                the connection is closed (.reason);
                                        ``__cause__`` says why when it is known

Trio and OS errors are translated once, where they enter trio_ws, with
``raise ... from exc`` so the original error stays reachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    "RemoteProtocolError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Root of every exception trio_ws raises."""


class ProtocolError(WebSocketError):
    """A WebSocket protocol rule was broken (see the two subclasses)."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol or the state forbids.

    Examples: sending after the connection closed, a close code that may not
    be sent on the wire, a control-frame payload over 125 bytes.
    """


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    Attributes:
        close_code: the close code trio_ws sent (or will send) to the peer
            because of this error, e.g. 1002 (protocol error), 1007 (invalid
            payload data) or 1009 (message too big).
    """

    def __init__(self, message: str, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class HandshakeError(WebSocketError):
    """The opening handshake did not complete."""


class InvalidHandshake(HandshakeError):
    """A malformed or unacceptable handshake request or response.

    Attributes:
        status_code: on the server side, the HTTP status code to answer with
            (400, 405, 414, 426, 431, 505 ...).
        headers: extra response headers to send with that status (for example
            ``Upgrade: websocket`` with a 426).
    """

    def __init__(
        self,
        message: str,
        status_code: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers


class ConnectionRejected(HandshakeError):
    """The server answered the upgrade request with a status other than 101.

    Attributes:
        status_code: the HTTP status code the server sent.
        headers: the response headers as ``(name, value)`` pairs.
        body: the response body (possibly truncated to the size limit).
    """

    def __init__(
        self,
        status_code: int,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(
            f"server rejected the WebSocket connection: HTTP {status_code}"
        )
        self.status_code = status_code
        self.headers = headers
        self.body = body


class ConnectionTimeout(HandshakeError):
    """The opening handshake did not complete within ``open_timeout``."""


class InvalidURL(WebSocketError, ValueError):
    """The URL is not a valid ``ws://`` or ``wss://`` URL."""


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
