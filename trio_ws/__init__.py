"""trio_ws: a WebSocket toolkit for Trio (RFC 6455), on a sans-I/O core."""

from ._core._events import (
    BinaryMessage,
    CloseReason,
    CloseReceived,
    ConnectionLost,
    Event,
    Ping,
    Pong,
    ProtocolFailure,
    TextMessage,
)
from ._core._frames import CloseCode, Frame, Opcode
from ._core._protocol import Protocol, Role, State
from ._exceptions import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    InvalidHandshake,
    InvalidURL,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    WebSocketError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BinaryMessage",
    "CloseCode",
    "CloseReason",
    "CloseReceived",
    "ConnectionClosed",
    "ConnectionLost",
    "ConnectionRejected",
    "ConnectionTimeout",
    "Event",
    "Frame",
    "HandshakeError",
    "InvalidHandshake",
    "InvalidURL",
    "LocalProtocolError",
    "Opcode",
    "Ping",
    "Pong",
    "Protocol",
    "ProtocolError",
    "ProtocolFailure",
    "RemoteProtocolError",
    "Role",
    "State",
    "TextMessage",
    "WebSocketError",
    "__version__",
]
