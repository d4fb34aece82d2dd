"""The errors of the sans-I/O core: protocol, handshake and URL errors.

The core owns these; the Trio layer (``trio_ws._exceptions``) adds the errors
that only exist with I/O (timeouts, a closed connection) under the same root
and re-exports the whole tree. See that module's docstring for the tree.
"""

from __future__ import annotations

__all__ = [
    "ConnectionRejected",
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


class InvalidURL(WebSocketError, ValueError):
    """The URL is not a valid ``ws://`` or ``wss://`` URL."""
