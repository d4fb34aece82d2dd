"""trio_ws: a WebSocket toolkit for Trio (RFC 6455), on a sans-I/O core.

Server::

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    trio.run(serve_websocket, echo, 8000)

Client::

    async with open_websocket_url("ws://127.0.0.1:8000/") as ws:
        await ws.send("hello")
        print(await ws.receive())
"""

from ._core._deflate import DeflateOptions
from ._core._events import CloseReason
from ._core._frames import CloseCode
from ._core._handshake import Request
from ._exceptions import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    InvalidHandshake,
    InvalidURL,
    LocalProtocolError,
    ProtocolError,
    ProxyError,
    ProxyRejected,
    RedirectError,
    RemoteProtocolError,
    WebSocketError,
)
from ._options import ConnectionOptions
from .client._client import (
    connect_websocket,
    connect_websocket_unix,
    connect_websocket_url,
    open_websocket,
    open_websocket_unix,
    open_websocket_url,
    wrap_client_stream,
)
from .client._reconnect import Reconnecting, reconnecting
from .connection._keepalive import KeepaliveTimeout
from .connection._statistics import WebSocketStatistics
from .connection._streaming import MessageStream
from .connection._websocket import Endpoint, WebSocket
from .connection._writer import WriteTimeout
from .pubsub._local import LocalPubSub, PubSub, Subscription
from .server._listeners import ReusePortUnavailable, open_reuse_port_listeners
from .server._metrics import LatencyHistogram, ServerStatistics
from .server._server import (
    Response,
    WebSocketServer,
    serve_websocket,
    wrap_server_stream,
)
from .server._unix import UnixListener, open_unix_listener

__version__ = "0.1.0.dev0"

__all__ = [
    "CloseCode",
    "CloseReason",
    "ConnectionClosed",
    "ConnectionOptions",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DeflateOptions",
    "Endpoint",
    "HandshakeError",
    "InvalidHandshake",
    "InvalidURL",
    "KeepaliveTimeout",
    "LatencyHistogram",
    "LocalProtocolError",
    "LocalPubSub",
    "MessageStream",
    "ProtocolError",
    "ProxyError",
    "ProxyRejected",
    "PubSub",
    "Reconnecting",
    "RedirectError",
    "RemoteProtocolError",
    "ReusePortUnavailable",
    "Request",
    "Response",
    "ServerStatistics",
    "Subscription",
    "UnixListener",
    "WebSocket",
    "WebSocketError",
    "WebSocketServer",
    "WebSocketStatistics",
    "WriteTimeout",
    "__version__",
    "connect_websocket",
    "connect_websocket_unix",
    "connect_websocket_url",
    "open_reuse_port_listeners",
    "open_unix_listener",
    "open_websocket",
    "open_websocket_unix",
    "open_websocket_url",
    "reconnecting",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]
