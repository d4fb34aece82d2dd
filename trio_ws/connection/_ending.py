"""How a connection ended: the one record of its cause and reason, and the
release of its transport.

Every path that ends a connection (the closing handshake, a peer's fault,
end of stream, a transport error, a keepalive timeout, a cancelled write,
the server's shutdown) reports here, and the first report wins: a later,
consequential error (the write that fails because a keepalive timeout
closed the stream under it) never hides the first cause.
"""

from __future__ import annotations

import trio

from .._core._events import CloseReason
from .._core._interface import ProtocolLike
from .._exceptions import ConnectionClosed

__all__ = ["Ending"]

_LOST = CloseReason(1006)


class Ending:
    """Why a connection ended (first cause wins) and whether it is released.

    Attributes:
        cause: the exception that ended the connection, or None.
        reason: the close reason it settled on, or None while it is open.
        aborting: set once the connection is being torn down on our side
            (``abort``): errors of reads and writes cut short by that are
            consequences, not causes.
        stream_closed: the transport has been closed.
        closed_first: our close frame started the closing handshake (we did
            not answer the peer's): for the server's metrics, who closed.
    """

    __slots__ = (
        "_protocol",
        "_stream",
        "aborting",
        "cause",
        "closed_first",
        "reason",
        "stream_closed",
    )

    def __init__(self, stream: trio.abc.Stream, protocol: ProtocolLike) -> None:
        self._stream = stream
        self._protocol = protocol
        self.cause: BaseException | None = None
        self.reason: CloseReason | None = None
        self.aborting = False
        self.stream_closed = False
        self.closed_first = False

    @property
    def released(self) -> bool:
        """True once the close reason is known and the stream is closed."""
        return self.stream_closed and self.reason is not None

    def record_cause(self, cause: BaseException | None) -> None:
        """Record why the connection ended: the first cause wins."""
        if self.cause is None:
            self.cause = cause

    def record_reason(
        self, reason: CloseReason | None = None, *, default: CloseReason = _LOST
    ) -> None:
        """Record how the connection ended, once (the first reason wins).

        ``None``: the closing handshake's reason (the peer's close frame, or
        the protocol failure's code), else ``default`` (1006).
        """
        if self.reason is None:
            if reason is None:
                reason = self._protocol.close_reason or default
            self.reason = reason

    def closed_error(self) -> ConnectionClosed:
        """The ConnectionClosed to raise now, chained to the recorded cause."""
        reason = self.reason
        if reason is None:
            protocol = self._protocol
            reason = protocol.close_reason or protocol.close_sent or CloseReason(1006)
        error = ConnectionClosed(reason)
        cause = self.cause
        if cause is not None and cause is not error:
            error.__cause__ = cause
        return error

    async def close_stream(self, *, checkpoint: bool = True) -> None:
        """Close the transport at once (without a TLS close_notify); idempotent.

        ``checkpoint=False``: the caller has just checkpointed, so a plain
        socket is closed without another trip through the scheduler.
        """
        if self.stream_closed:
            return
        self.stream_closed = True
        stream = self._stream
        if type(stream) is trio.SocketStream:
            # What SocketStream.aclose() does, minus aclose_forcefully's
            # cancelled scope, whose Cancelled costs two more trips through
            # the scheduler per connection.
            stream.socket.close()
            if checkpoint:
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            await trio.aclose_forcefully(stream)
