"""trio-websocket's API on trio_ws: port a program with one import.

::

    import trio_ws.compat as trio_websocket

The names, signatures, defaults and behaviour of trio-websocket 0.12 (its
``WebSocketRequest`` handed to server handlers, ``accept()``/``reject()``,
``bytes`` headers, ``message_queue_size=0``, ``DisconnectionTimeout``...),
while the connections are trio_ws's: this package only runs the opening
handshake and translates the API. Differences that remain are listed in the
migration guide (docs/trio-websocket.rst). New code should use trio_ws's
own API.
"""

from ._client import (
    connect_websocket,
    connect_websocket_url,
    open_websocket,
    open_websocket_url,
    wrap_client_stream,
)
from ._connection import WebSocketConnection
from ._server import (
    WebSocketRequest,
    WebSocketServer,
    serve_websocket,
    wrap_server_stream,
)
from ._types import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    Endpoint,
    HandshakeError,
)

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketRequest",
    "WebSocketServer",
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]
