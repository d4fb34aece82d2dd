"""Writes of one connection to its transport: one at a time, in wire order.

The sans-I/O protocol queues frames (messages, pongs, close frames) in its
outgoing buffer; :meth:`Writer.flush` hands everything queued to the stream
in one ``send_all``. Writers take turns: a flag, plus a parking lot created at
the first contention (a ``trio.Lock`` costs ~0.5 KiB per connection and most
connections never contend); the releasing task hands the turn over directly,
first come first served, so frames of two messages never interleave.

Under load, :meth:`Writer.write_later` leaves frames in the buffer for a
short-lived helper task that writes them together once the sender yields.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from ._core._interface import ProtocolLike

__all__ = ["MAX_DEFERRED_BYTES", "TRANSPORT_ERRORS", "Writer"]

# Frames left for the helper are bounded: beyond this many buffered bytes the
# sender writes (and waits for the socket) itself.
MAX_DEFERRED_BYTES = 65536

# What a dead or closed transport raises.
TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class Writer:
    """Serializes and batches the writes of one connection.

    Args:
        stream: the transport.
        protocol: the protocol whose outgoing buffer is written.
        on_error: awaited with the exception when a deferred write fails
            (the sender has already returned, so it cannot be told).
    """

    __slots__ = ("_busy", "_on_error", "_protocol", "_scheduled", "_stream", "_waiters")

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: ProtocolLike,
        on_error: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._on_error = on_error
        self._busy = False
        self._waiters: trio.lowlevel.ParkingLot | None = None
        self._scheduled = False

    async def flush(self) -> None:
        """Write whatever the protocol queued, in one send_all, in turn.

        Raises:
            trio.BrokenResourceError, trio.ClosedResourceError, OSError: the
                transport failed.
        """
        # Uncontended, take the turn without a checkpoint of its own:
        # send_all() checkpoints anyway, and this is the per-message hot path.
        if self._busy:
            if self._waiters is None:
                self._waiters = trio.lowlevel.ParkingLot()
            await self._waiters.park()  # woken by the previous writer: our turn
        else:
            self._busy = True
        try:
            data = self._protocol.data_to_send()
            if data:
                await self._stream.send_all(data)
        finally:
            waiters = self._waiters
            if waiters is None or not waiters.unpark(count=1):
                self._busy = False

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

    async def _write_deferred(self) -> None:
        """Write the frames left in the buffer (never raises)."""
        try:
            while self._protocol.has_data_to_send:
                await self.flush()
        except TRANSPORT_ERRORS as exc:
            await self._on_error(exc)
        finally:
            self._scheduled = False
