"""The compat layer's only contact with trio_ws internals.

Every private name of trio_ws that ``trio_ws.compat`` uses is imported or
touched here, so that a change inside the engine has one place to adapt:

- ``WebSocket``'s constructor (stream, protocol, options, ``subprotocol=``,
  ``request=``, ``leftover=``, and ``queue=``, the package-internal way to
  give it another message queue: a rendezvous one for
  ``message_queue_size=0``) and its ``_start(nursery)`` (no sweeper: the
  reader task starts);
- ``ConnectionOptions.make_protocol``, ``trio_ws._core._protocol.Role`` and
  ``trio_ws._options.DEFAULT_RECEIVE_SIZE``;
- ``trio_ws.connection._queue.MessageQueue`` (subclassed, every method the
  engine calls overridden) and ``trio_ws.connection._queue.EMPTY``;
- ``trio_ws.client._transport.read_refusal_body`` (the body of a rejection,
  as ``read_rejection_body``);
- the sans-I/O handshake of ``trio_ws._core._handshake`` (``HeadReader``,
  ``parse_request``, ``validate_request``, ``build_accept_response``,
  ``build_http_response``, ``generate_key``, ``parse_response``,
  ``validate_response``, ``Request``, ``ClientOffer``, ``Response``) and
  ``trio_ws._core._http.encode_head``, re-exported as ``hs`` and
  ``encode_head``;
- ``trio_ws._core._events._CLOSE_CODE_NAMES`` (the registered close codes'
  names, which trio-websocket spells slightly differently);
- ``trio_ws.server._handshake.read_request`` (the server's first step),
  ``trio_ws._http_io.read_head`` (the one HTTP head reader) and
  ``trio_ws._scopes.hidden_nursery`` and ``leaves`` (what leaves a nursery
  of ours; the exceptions inside a group);
- ``trio_ws.connection._writer.TRANSPORT_ERRORS`` (what a dead or closed
  transport raises).

Besides, the compat layer relies on public behaviour: ``WebSocket.receive``,
``send``, ``ping``, ``pong``, ``aclose``, ``closed``, ``is_client``,
``subprotocol`` and ``statistics()`` (its ``state`` and ``close_reason``).

Why: trio-websocket's server hands the request to the handler *before* the
upgrade (``accept()``/``reject()`` run in the handler) and its client keeps
the headers of the 101 answer; trio_ws's public entry points run the whole
handshake themselves. So the compat layer runs the handshake with the core's
functions and then builds the engine's connection object on the upgraded
stream: the connection itself (framing, reader, writer, closing) is trio_ws's.
"""

from __future__ import annotations

from typing import TypeVar

import trio

from .. import ConnectionOptions, WebSocket
from .._core import _handshake as hs
from .._core._events import _CLOSE_CODE_NAMES as CLOSE_CODE_NAMES
from .._core._http import encode_head
from .._core._protocol import Role
from .._http_io import read_head
from .._options import DEFAULT_RECEIVE_SIZE
from .._scopes import hidden_nursery, leaves
from ..client._transport import read_refusal_body as read_rejection_body
from ..connection._queue import EMPTY, MessageQueue
from ..connection._writer import TRANSPORT_ERRORS
from ..server._handshake import read_request
from ._framewise import FramewiseStream

__all__ = [
    "CLOSE_CODE_NAMES",
    "TRANSPORT_ERRORS",
    "encode_head",
    "hidden_nursery",
    "hs",
    "leaves",
    "read_head",
    "read_request",
    "make_options",
    "read_rejection_body",
    "start_connection",
]

T = TypeVar("T")

# A close_timeout of zero (or less) times out at once; the engine wants > 0.
_SHORTEST_TIMEOUT = 1e-9


def make_options(
    *,
    message_queue_size: int,
    max_message_size: int,
    receive_buffer_size: int | None,
    close_timeout: float,
) -> ConnectionOptions:
    """The engine's options for trio-websocket's: no keepalive, no compression.

    ``message_queue_size=0`` gives a queue of 1 here; :func:`start_connection`
    then swaps in a rendezvous queue.
    """
    if message_queue_size < 0:
        raise ValueError(f"message_queue_size must be >= 0, not {message_queue_size}")
    return ConnectionOptions(
        max_message_size=max_message_size,
        message_queue_size=max(message_queue_size, 1),
        # trio-websocket has no handshake timeout of the connection itself
        # (the compat functions bound the handshake), no keepalive and no
        # permessage-deflate.
        open_timeout=None,
        close_timeout=max(close_timeout, _SHORTEST_TIMEOUT),
        ping_interval=None,
        ping_timeout=None,
        receive_size=receive_buffer_size or DEFAULT_RECEIVE_SIZE,
        compression=None,
    )


def start_connection(
    stream: trio.abc.Stream,
    nursery: trio.Nursery,
    options: ConnectionOptions,
    *,
    client: bool,
    rendezvous: bool,
    subprotocol: str | None,
    request: hs.Request | None = None,
    leftover: bytes = b"",
) -> WebSocket:
    """An engine connection on a stream whose opening handshake is done.

    Its reader task starts in ``nursery``. ``leftover``: bytes received after
    the handshake's head (the first frames). With ``rendezvous`` (trio-websocket's
    ``message_queue_size=0``) nothing after a message is read (or answered)
    until ``receive()`` takes it: a rendezvous queue, and the stream wrapped
    in a :class:`FramewiseStream`.
    """
    if rendezvous:
        # One frame per read, so the reader stops at each untaken message.
        stream = FramewiseStream(stream, leftover, options.receive_size)
        leftover = b""
    ws = WebSocket(
        stream,
        options.make_protocol(Role.CLIENT if client else Role.SERVER),
        options,
        subprotocol=subprotocol,
        request=request,
        leftover=leftover,
        queue=RendezvousQueue() if rendezvous else None,
    )
    ws._start(nursery)
    return ws


class RendezvousQueue(MessageQueue[T]):
    """A message queue of capacity zero: ``put()`` returns when a ``get()``
    has taken its item (a trio memory channel of size 0 underneath).

    The engine's reader puts each message and waits there, so it does not
    read the next frame (a close frame, a ping) before the user takes the
    message: trio-websocket's ``message_queue_size=0``.
    """

    __slots__ = ("_overflow", "_receiver", "_sender")

    def __init__(self) -> None:
        super().__init__(1)  # (its own buffer stays unused)
        self._sender, self._receiver = trio.open_memory_channel[T](0)
        # Items push() could not hand over (the engine's inline reading only).
        self._overflow: list[T] = []

    def __len__(self) -> int:
        return len(self._overflow)

    def put_nowait(self, item: T) -> None:
        self._sender.send_nowait(item)

    def push(self, item: T) -> None:
        try:
            self._sender.send_nowait(item)
        except trio.WouldBlock:
            self._overflow.append(item)

    def push_all(self, items: list[T]) -> None:
        for item in items:
            self.push(item)

    async def put(self, item: T) -> None:
        await self._sender.send(item)

    def get_nowait(self) -> T:
        if self._overflow:
            return self._overflow.pop(0)
        return self._receiver.receive_nowait()

    def take(self) -> T | object:
        try:
            return self.get_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return EMPTY

    async def get(self) -> T:
        if self._overflow:
            await trio.lowlevel.checkpoint()
            return self._overflow.pop(0)
        return await self._receiver.receive()

    def close(self) -> None:
        super().close()  # sets ``closed``
        self._sender.close()  # a waiting put() raises ClosedResourceError
