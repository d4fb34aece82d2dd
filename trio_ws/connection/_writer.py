"""Writes of one connection to its transport: one at a time, in wire order.

The sans-I/O protocol queues frames (messages, pongs, close frames) in its
outgoing buffer; :meth:`Writer.flush` hands everything queued to the stream
in one ``send_all`` (two for a large payload, which is not copied). Writers
take turns: a flag, plus a parking lot created at the first contention (a
``trio.Lock`` costs ~0.5 KiB per connection and most connections never
contend); the releasing task hands the turn over directly, first come first
served, so frames of two messages never interleave.

Under load, :meth:`Writer.write_later` leaves frames in the buffer for a
short-lived helper task that writes them together once the sender yields.
What the protocol answers by itself (pongs, the close echo) goes through
:meth:`Writer.write_soon`: batched, or written shielded from the caller's
cancellation. These are the connection's only ways to write.

A peer that stops reading fills the socket's send buffer, and then every
write waits. ``write_timeout`` bounds that wait: a write that cannot hand
:data:`WRITE_TIMEOUT_CHUNK` bytes to the transport within it fails with
:class:`WriteTimeout`, and the connection is aborted. No close frame can be
sent then: the peer reads nothing, and part of a frame may already be on the
wire, after which nothing else can be (RFC 6455 5.2 frames cannot be
resumed). For the same reason, a write cut short any other way (cancelled,
or failed) leaves the writer broken: later flushes fail at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence

import trio

from .._core._interface import ProtocolLike
from .._exceptions import ConnectionTimeout
from .._options import seconds
from ._ending import Ending

__all__ = [
    "MAX_DEFERRED_BYTES",
    "TRANSPORT_ERRORS",
    "WRITE_TIMEOUT_CHUNK",
    "WriteTimeout",
    "Writer",
    "write_now",
]

# Frames left for the helper are bounded: beyond this many buffered bytes the
# sender writes (and waits for the socket) itself.
MAX_DEFERRED_BYTES = 65536

# ``write_timeout`` applies to each piece of this many bytes of a write, not
# to the whole write: a big message to a slow but live peer is not cut off,
# while a peer that reads nothing is. With write_timeout=30 the slowest
# reader kept is ~9 KB/s (256 KiB per 30 s). Writes up to this size (nearly
# all of them) go to the transport in one send_all, as before.
WRITE_TIMEOUT_CHUNK = 256 << 10


# A plain socket's file descriptor takes a write at once while its send
# buffer has room (POSIX; a Windows socket is no file descriptor).
_FD_WRITES = sys.platform != "win32"


def write_now(
    stream: trio.abc.Stream, pieces: Sequence[bytes | memoryview]
) -> Sequence[bytes | memoryview]:
    """Write what a plain socket takes of ``pieces`` at once: the pieces left
    to write (empty: all written), for ``send_all``.

    No checkpoint and no trip through the scheduler: for the few bytes a
    connection writes when it opens and closes (the 101, the close echo),
    which a socket with room in its send buffer takes whole, this saves the
    ``send_all`` machinery and, where the write must not be cancelled, a
    shielding cancel scope. Nothing is written when ``stream`` is not a
    plain socket, or the write would block or fails: ``send_all`` then
    waits, or raises trio's usual error.
    """
    if not _FD_WRITES or type(stream) is not trio.SocketStream or not pieces:
        return pieces
    try:
        fd = stream.socket.fileno()
        # (One piece, the usual case, without writev's list.)
        written = os.write(fd, pieces[0]) if len(pieces) == 1 else os.writev(fd, pieces)
    except OSError:  # (BlockingIOError included)
        return pieces
    if len(pieces) == 1 and written == len(pieces[0]):
        return ()  # (the usual case, without a call)
    return _unwritten(pieces, written)


def _unwritten(
    pieces: Sequence[bytes | memoryview], written: int
) -> Sequence[bytes | memoryview]:
    """What is left of ``pieces`` once their first ``written`` bytes are out."""
    for index, piece in enumerate(pieces):
        size = len(piece)
        if written < size:
            if not written:
                return pieces[index:]
            return [memoryview(piece)[written:], *pieces[index + 1 :]]
        written -= size
    return ()


class WriteTimeout(ConnectionTimeout):
    """The peer read none of our data for ``write_timeout`` seconds.

    The connection was aborted: ``ConnectionClosed.reason`` is 1006 (no
    close frame could be sent) and its ``__cause__`` this error.
    """


# What a dead or closed transport raises (and a write that timed out).
TRANSPORT_ERRORS = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,
    WriteTimeout,
)


class Writer:
    """Serializes and batches the writes of one connection.

    Args:
        stream: the transport.
        protocol: the protocol whose outgoing buffer is written.
        on_error: awaited with the exception when a deferred write fails
            (the sender has already returned, so it cannot be told), and
            when a write times out or is cancelled midway: it must abort
            the connection.
        timeout: ``write_timeout``, seconds (None: writes may wait forever).
        close_timeout: bounds the shielded writes (:meth:`flush_shielded`).
        ending: where a shielded write's transport error is recorded, and
            which closes the stream after the close echo.
    """

    __slots__ = (
        "_broken",
        "_close_timeout",
        "_ending",
        "_on_error",
        "_protocol",
        "_scheduled",
        "_stream",
        "_timeout",
        "_waiters",
        "busy",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: ProtocolLike,
        on_error: Callable[[BaseException], Awaitable[None]],
        *,
        timeout: float | None = None,
        close_timeout: float | None = None,
        ending: Ending,
    ) -> None:
        self._stream = stream
        self._close_timeout = close_timeout
        self._ending = ending
        self._protocol = protocol
        self._on_error = on_error
        self._timeout = timeout
        # True while a write is in progress (others wait for their turn).
        self.busy = False
        self._waiters: trio.lowlevel.ParkingLot | None = None
        self._scheduled = False
        # Why a write was cut short; nothing can be written after that.
        self._broken: str | None = None

    async def flush(self) -> None:
        """Write whatever the protocol queued, in turn (see the module docstring).

        Raises:
            trio.BrokenResourceError, trio.ClosedResourceError, OSError: the
                transport failed, or an earlier write was cut short.
            WriteTimeout: the peer read nothing for ``timeout`` seconds; the
                connection has been aborted (``on_error``).
        """
        # (This is the per-message path: the uncontended turn and the write
        # are inlined, an await of a coroutine costs ~1.5k instructions.)
        if self.busy:
            await self.acquire()
        else:
            self.busy = True
        try:
            pieces = self._pieces_to_write()
            if pieces:
                await self._write(pieces)
        finally:
            self.release()

    async def acquire(self) -> None:
        """Take the turn to write: at once when free, else after the writers
        already waiting. Cancelling a wait leaves nothing held."""
        # Uncontended, take the turn without a checkpoint of its own:
        # send_all() checkpoints anyway.
        if self.busy:
            if self._waiters is None:
                self._waiters = trio.lowlevel.ParkingLot()
            await self._waiters.park()  # woken by the previous writer: our turn
        else:
            self.busy = True

    def release(self) -> None:
        """Give the turn to the next waiting writer, if any."""
        waiters = self._waiters
        if waiters is None or not waiters.unpark(count=1):
            self.busy = False

    async def write_queued(self) -> None:
        """Write what the protocol queued; the caller holds the turn.

        Raises: as :meth:`flush`.
        """
        pieces = self._pieces_to_write()
        if pieces:
            await self._write(pieces)

    def _pieces_to_write(self) -> list[bytes | memoryview]:
        pieces = self._protocol.data_to_send_pieces()
        if pieces and self._broken is not None:
            raise trio.BrokenResourceError(
                f"an earlier write was cut short ({self._broken}): "
                "the connection cannot send anything more"
            )
        return pieces

    async def _write(self, pieces: list[bytes | memoryview]) -> None:
        try:
            if self._timeout is None:
                for data in pieces:  # (nearly always one)
                    await self._stream.send_all(data)
            else:
                await self._write_bounded(pieces)
        except BaseException as exc:
            # The frames in ``pieces`` left the protocol and may be partly on
            # the wire: the connection cannot go on.
            cancelled = isinstance(exc, trio.Cancelled)
            self._broken = "it was cancelled midway" if cancelled else repr(exc)
            if cancelled or isinstance(exc, WriteTimeout):
                cause: BaseException = exc
                if cancelled:
                    cause = trio.BrokenResourceError("a write was cancelled midway")
                with trio.CancelScope(shield=True):
                    await self._on_error(cause)
            raise

    async def _write_bounded(self, pieces: list[bytes | memoryview]) -> None:
        """send_all each piece, each WRITE_TIMEOUT_CHUNK bytes within ``timeout``."""
        timeout = self._timeout
        assert timeout is not None
        total = sum(len(data) for data in pieces)
        written = 0
        for data in pieces:
            # (A slice of a memoryview copies nothing; most writes are one chunk.)
            chunks = (
                (data,)
                if len(data) <= WRITE_TIMEOUT_CHUNK
                else _pieces(memoryview(data), WRITE_TIMEOUT_CHUNK)
            )
            for chunk in chunks:
                with trio.move_on_after(timeout) as scope:
                    await self._stream.send_all(chunk)
                if scope.cancelled_caught:
                    raise WriteTimeout(
                        f"the peer read nothing for {timeout} s "
                        f"({written} of {total} bytes written)"
                    )
                written += len(chunk)

    def would_defer(self, extra: int, nursery: trio.Nursery | None) -> bool:
        """Would :meth:`write_later` take the buffer with ``extra`` more bytes?"""
        if self._protocol.bytes_to_send + extra > MAX_DEFERRED_BYTES:
            return False
        return self._scheduled or nursery is not None

    def write_later(self, nursery: trio.Nursery | None) -> bool:
        """Leave the queued frames for a helper task in ``nursery``.

        Returns False (the caller must flush itself) when more than
        MAX_DEFERRED_BYTES are buffered or no helper can be started.
        """
        if self._protocol.bytes_to_send > MAX_DEFERRED_BYTES:
            return False
        if not self._scheduled:
            if nursery is None:
                return False
            try:
                nursery.start_soon(self._write_deferred)
            except RuntimeError:  # the nursery is closing: write directly
                return False
            self._scheduled = True
        return True

    async def write_soon(self, nursery: trio.Nursery | None) -> None:
        """Write what the protocol answered (pongs, a close echo) without
        exposing the stream to the caller's cancellation: by the helper task,
        or shielded and bounded by ``close_timeout``."""
        if not self.write_later(nursery):
            await self.flush_shielded()

    async def flush_shielded(
        self, *, record_error: bool = True, then_close: bool = False
    ) -> None:
        """Write what is queued, shielded from the caller's cancellation and
        bounded by ``close_timeout``; a transport error is recorded as the
        close cause (unless ``record_error`` is False). With ``then_close``,
        close the stream after, still shielded."""
        taken: Sequence[bytes | memoryview] | None = None
        if not self.busy and self._broken is None:
            # What a plain socket takes at once (nearly always: these are a
            # few bytes) is written without a checkpoint: nothing to shield,
            # no scope (a cancel scope costs ~50k instructions).
            taken = write_now(self._stream, self._protocol.data_to_send_pieces())
            if not taken:
                if then_close:
                    await self._ending.close_stream(checkpoint=False)
                return
        # One scope both shields and bounds (cancel scopes are not free, and
        # this runs for every pong).
        deadline = trio.current_time() + seconds(self._close_timeout)
        with trio.CancelScope(shield=True, deadline=deadline):
            try:
                if taken is None:
                    await self.flush()
                else:
                    # The rest of what write_now() took, in turn (nobody else
                    # wrote since: the turn is free).
                    self.busy = True
                    try:
                        await self._write(list(taken))
                    finally:
                        self.release()
            except TRANSPORT_ERRORS as exc:
                if record_error:
                    self._ending.record_cause(exc)
            if then_close:
                # (Closing is not bounded by the deadline: it does no I/O that
                # can wait, see Ending.close_stream. The flush checkpointed.)
                await self._ending.close_stream(checkpoint=False)

    async def _write_deferred(self) -> None:
        """Write the frames left in the buffer (never raises)."""
        try:
            while self._protocol.has_data_to_send:
                await self.flush()
        except TRANSPORT_ERRORS as exc:
            await self._on_error(exc)
        finally:
            self._scheduled = False


def _pieces(view: memoryview, size: int) -> Iterator[memoryview]:
    for start in range(0, len(view), size):
        yield view[start : start + size]
