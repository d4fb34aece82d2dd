"""Serving legacy draft-76 ("hixie-76") clients: ``serve_websocket(draft76=True)``.

The server reads the request head as usual; when it is a draft-76 upgrade
(see :func:`~._core._hixie76.is_hixie76_request`) and the option is on,
:func:`hixie76_handshake` validates the keys, reads the 8 bytes of key3 that
follow the head, answers, and returns a :class:`WebSocket` driving a
:class:`~._core._hixie76_protocol.Hixie76Protocol`. The caller's
``open_timeout`` scope bounds the wait for key3.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from .._core._handshake import Request
from .._core._hixie76 import (
    Key3Reader,
    build_hixie76_response,
    validate_hixie76_request,
)
from .._core._hixie76_protocol import Hixie76Protocol
from .._core._protocol import Role
from .._options import ConnectionOptions
from ..connection._websocket import WebSocket

__all__ = ["DRAFT76_DISABLED", "hixie76_handshake"]

# The 400 body when draft-76 is off (the default).
DRAFT76_DISABLED = (
    "this is a legacy draft-76 (hixie-76) WebSocket request, and draft-76 is "
    "disabled on this server; connect with RFC 6455 (Sec-WebSocket-Version: 13)"
)


async def hixie76_handshake(
    stream: trio.abc.Stream,
    request: Request,
    trailing: bytes,
    *,
    subprotocols: Sequence[str],
    options: ConnectionOptions,
) -> WebSocket:
    """Answer a draft-76 upgrade request; return the (not yet started) WebSocket.

    Args:
        trailing: the bytes that arrived after the request head
            (``HeadReader.trailing``): key3, or its beginning.

    Raises:
        InvalidHandshake: malformed request or keys (400 before waiting for
            key3), or the client closed before sending all of key3 (400).
    """
    offer = validate_hixie76_request(request)
    reader = Key3Reader()
    done = reader.feed(trailing) if trailing else False
    while not done:
        done = reader.feed(await stream.receive_some(options.receive_size))
    subprotocol = offer.subprotocol if offer.subprotocol in subprotocols else None
    await stream.send_all(
        build_hixie76_response(
            offer,
            reader.key3,
            secure=isinstance(stream, trio.SSLStream),
            subprotocol=subprotocol,
        )
    )
    protocol = Hixie76Protocol(
        Role.SERVER, max_message_size=options.max_message_size, defer_failure=True
    )
    # draft-76 has no pings, so no keepalive; compression does not exist
    # there either (no extensions), so only the message limit applies.
    return WebSocket(
        stream,
        protocol,
        attrs.evolve(options, ping_interval=None),
        subprotocol=subprotocol,
        request=request,
        leftover=reader.trailing,
    )
