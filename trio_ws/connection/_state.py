"""The state of one WebSocket connection, shared by its layers.

``WebSocket`` is built in layers, each a module of one concept::

    ConnectionState (_state.py)   the fields, set up once; the closed error
      Reader (_reader.py)         who reads: the reader task, or inline
        Closing (_closing.py)     closing handshake, failing, keepalive steps
          WebSocket (_connection.py)  the public API: send, receive, ping...

Only this class declares ``__slots__`` (one layout for all layers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from .._core._events import CloseReason
from .._core._interface import ProtocolLike
from .._exceptions import ConnectionClosed
from .._options import ConnectionOptions
from ._endpoint import endpoint_of
from ._keepalive import PendingPing, PingTracker
from ._queue import MessageQueue
from ._streaming import Incoming, QueueItem
from ._sweeper import Sweeper
from ._who_reads import WhoReads
from ._writer import Writer

if TYPE_CHECKING:
    from .._core._handshake import Request

__all__ = ["ConnectionState"]


class ConnectionState:
    """Fields of a connection (see WebSocket for the constructor's arguments)."""

    __slots__ = (
        "_aborting",
        "_close_cause",
        "_close_reason",
        "_discard_messages",
        "_extensions",
        "_failure_reached",
        "_fragmenting",
        "_helpers_scope",
        "_incoming",
        "_keepalive_ping",
        "_leftover",
        "_local",
        "_nursery",
        "_options",
        "_pings",
        "_protocol",
        "_queue",
        "_reader_done",
        "_reading",
        "_receive_generation",
        "_receives_without_yield",
        "_remote",
        "_request",
        "_stream",
        "_stream_closed",
        "_subprotocol",
        "_sweeper",
        "_writer",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: ProtocolLike,
        options: ConnectionOptions,
        *,
        subprotocol: str | None = None,
        extensions: str | None = None,
        request: Request | None = None,
        leftover: bytes = b"",
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._options = options
        self._subprotocol = subprotocol
        self._extensions = extensions
        self._request = request
        self._leftover = leftover
        self._writer = Writer(
            stream, protocol, self._write_failed, timeout=options.write_timeout
        )
        # Messages for receive() (see QueueItem); None marks where the peer
        # broke the protocol.
        # (Not MessageQueue[QueueItem](...): subscripting at run time builds
        # a generic alias on every connection.)
        self._queue: MessageQueue[QueueItem] = MessageQueue(options.message_queue_size)
        # The fragmented message waiting for receive() or receive_stream().
        self._incoming: Incoming | None = None
        # Counts receive calls, so a stale MessageStream can tell.
        self._receive_generation = 0
        # Set while send() sends a message in fragments; others wait for it.
        self._fragmenting: trio.Event | None = None
        # Created only when a peer fault has to wait for the user (rare).
        self._failure_reached: trio.Event | None = None
        # Pings waiting for their pong, by payload, oldest first.
        self._pings = PingTracker()
        self._close_reason: CloseReason | None = None
        self._close_cause: BaseException | None = None
        self._discard_messages = False
        # Who reads the transport (see _who_reads.py).
        self._reading = WhoReads()
        self._sweeper: Sweeper | None = None
        # The sweeper's keepalive ping waiting for its pong.
        self._keepalive_ping: PendingPing | None = None
        # Set when reading is over; created only once someone waits for it.
        self._reader_done: trio.Event | None = None
        self._stream_closed = False
        self._helpers_scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._receives_without_yield = 0
        self._aborting = False
        # Read once: the socket cannot tell them any more after it is closed.
        if request is not None:  # (the server read them for process_request)
            self._local, self._remote = request.local, request.remote
        else:
            self._local = endpoint_of(stream, local=True)
            self._remote = endpoint_of(stream, local=False)

    @property
    def _released(self) -> bool:
        """True once the close reason is known and the stream is closed."""
        return self._stream_closed and self._close_reason is not None

    def _record_cause(self, cause: BaseException | None) -> None:
        """Record why the connection ended: the first cause wins."""
        if self._close_cause is None:
            self._close_cause = cause

    def _record_reason(self, reason: CloseReason | None = None) -> None:
        """Record how the connection ended, once (the first reason wins).

        ``None``: the closing handshake's reason (the peer's close frame, or
        the protocol failure's code), else 1006.
        """
        if self._close_reason is None:
            if reason is None:
                reason = self._protocol.close_reason or CloseReason(1006)
            self._close_reason = reason

    def _closed_error(self) -> ConnectionClosed:
        reason = self._close_reason
        if reason is None:
            reason = (
                self._protocol.close_reason
                or self._protocol.close_sent
                or CloseReason(1006)
            )
        error = ConnectionClosed(reason)
        cause = self._close_cause
        if cause is not None and cause is not error:
            error.__cause__ = cause
        return error

    async def _write_failed(self, exc: BaseException) -> None:
        """A deferred write failed (implemented by Closing)."""
        raise NotImplementedError
