"""The server's opening handshake, one job per function.

:func:`server_handshake` runs them in order for ``serve_websocket`` and
``wrap_server_stream``; each step also stands alone (the compat layer's
``WebSocketRequest.accept()``/``reject()`` use them):

1. :func:`read_request`: read the head, parse it, note both endpoints;
2. the application's ``process_request`` hook (``_server._answer_of``);
3. :func:`refusal`: what a request that is not a WebSocket upgrade gets
   (426), decided without I/O; a draft-76 upgrade goes to _hixie76.py, or
   gets 400 when draft-76 is off (:func:`draft76_off`);
4. :func:`negotiate`: validate the upgrade, choose the subprotocol and the
   permessage-deflate parameters;
5. :func:`accept`: send the 101 and build the (not yet started) WebSocket;
   or answer with plain HTTP (:func:`error_response` for a refused one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import trio

from .._core import _handshake as hs
from .._core._deflate import DeflateParams, server_negotiate
from .._core._protocol import Role
from .._exceptions import InvalidHandshake
from .._http_io import read_head
from .._options import ConnectionOptions
from ..connection._endpoint import endpoint_of
from ..connection._websocket import WebSocket
from ..connection._writer import write_now
from ._hixie76 import DRAFT76_DISABLED

__all__ = [
    "Negotiated",
    "accept",
    "draft76_off",
    "negotiate",
    "read_request",
    "refusal",
]

_NOT_UPGRADE_BODY = (
    b"426 Upgrade Required: this is a WebSocket endpoint. "
    b"Connect with a WebSocket client (ws:// or wss://).\n"
)


async def read_request(
    stream: trio.abc.Stream, receive_size: int
) -> tuple[hs.Request, bytes] | None:
    """The request and the bytes after its head; None if the client left.

    Raises:
        InvalidHandshake: a malformed head (its status says which answer).
    """
    reader = await read_head(stream, receive_size)
    if reader is None:
        return None
    request = hs.parse_request(
        reader.head,
        local=endpoint_of(stream, local=True),
        remote=endpoint_of(stream, local=False),
    )
    return request, reader.trailing


def refusal(request: hs.Request) -> tuple[int, bytes] | None:
    """The plain HTTP answer (status, bytes) to a request that is no
    WebSocket upgrade (426), or None."""
    if hs.is_upgrade_request(request):
        return None
    headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
    return 426, hs.build_http_response(426, headers, _NOT_UPGRADE_BODY)


def draft76_off() -> InvalidHandshake:
    """The refusal of a draft-76 upgrade when draft-76 is off (400)."""
    return InvalidHandshake(DRAFT76_DISABLED, 400, (("Sec-WebSocket-Version", "13"),))


class Negotiated(NamedTuple):
    """What the server agreed to for one upgrade request."""

    offer: hs.ClientOffer
    subprotocol: str | None
    params: DeflateParams | None


def negotiate(
    request: hs.Request, subprotocols: Sequence[str], options: ConnectionOptions
) -> Negotiated:
    """Validate an RFC 6455 upgrade; choose the subprotocol (the first of
    ``subprotocols`` the client offered) and permessage-deflate.

    Raises:
        InvalidHandshake: not a valid upgrade (its status says which answer).
    """
    offer = hs.validate_request(request)
    params = None
    if options.compression is not None and offer.extensions:
        params = server_negotiate(offer.extensions, options.compression)
    subprotocol = next((p for p in subprotocols if p in offer.subprotocols), None)
    # (A tuple's constructor: this runs once per connection.)
    return Negotiated(offer, subprotocol, params)


async def accept(
    stream: trio.abc.Stream,
    request: hs.Request,
    leftover: bytes,
    negotiated: Negotiated,
    options: ConnectionOptions,
    *,
    extra_headers: hs.Headers = (),
) -> WebSocket:
    """Send the 101 and return the WebSocket (not started: ``ws._start()``).

    Raises:
        ValueError: ``extra_headers`` would replace the handshake's own.
    """
    params = negotiated.params
    extensions = params.response_header() if params is not None else None
    response = hs.build_accept_response(
        negotiated.offer,
        subprotocol=negotiated.subprotocol,
        extensions=extensions,
        extra_headers=extra_headers,
    )
    # (A plain socket takes the 101 at once: no trip through the scheduler.)
    for piece in write_now(stream, (response,)):
        await stream.send_all(piece)
    return WebSocket(
        stream,
        options.make_protocol(Role.SERVER, params),
        options,
        subprotocol=negotiated.subprotocol,
        extensions=extensions,
        request=request,
        leftover=leftover,
    )


def error_response(error: InvalidHandshake) -> bytes:
    """The HTTP answer to a refused handshake (its status, headers, reason)."""
    body = f"{error.status_code} {error}\n".encode()
    return hs.build_http_response(error.status_code, error.headers, body)
