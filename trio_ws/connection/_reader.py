"""The reader task of a connection: transport -> protocol -> message queue.

A mixin of :class:`~._connection.WebSocket` (the class is big enough without
it). Someone reads the stream, feeds the sans-I/O protocol, writes what the
protocol answers (pongs, close echoes), and hands messages, chunks and
fragmented-message markers to the queue. Two ways:

- the reader task (:meth:`Reader._reader`): reads until the connection ends,
  waiting when the queue is full (backpressure), and ends the connection
  when the closing handshake is done, the peer failed, or the transport
  died. It never raises: it records why the connection ended. Clients, TLS
  connections and streams wrapped by hand start it at once.
- inline (:meth:`Reader._read_inline`), on plain server connections: the
  handler's own task reads while it waits in ``receive()``, which saves a
  task hand-off per message. Anything out of the ordinary (the peer's close
  frame or fault, end of file, aclose(), a ping waiting for its pong, a
  handler away from receive() for a while: see _sweeper.py) starts the
  reader task, which then takes over for good.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable

import trio

from .._core._events import (
    BinaryMessage,
    CloseReason,
    MessageChunk,
    MessageStart,
    Pong,
    ProtocolFailure,
    TextMessage,
)
from .._core._protocol import State
from .._options import seconds
from ._state import ConnectionState
from ._streaming import Incoming, Mode, QueueItem
from ._who_reads import Reading
from ._writer import TRANSPORT_ERRORS

__all__ = ["Reader"]

logger = logging.getLogger("trio_ws")

_PEER_EOF = CloseReason(1006, "the peer closed the connection without a close frame")


class Reader(ConnectionState):
    """The reader half of a WebSocket (its state is in ConnectionState)."""

    __slots__ = ()

    async def _reader(self) -> None:
        protocol = self._protocol
        cancelled = False
        try:
            if self._leftover:
                protocol.receive_data(self._leftover)
                self._leftover = b""
            while True:
                # (Also when started after inline reading: what is pending.)
                await self._dispatch()
                if protocol.pending_failure is not None:
                    await self._fail_in_order()
                    return
                if protocol.state is State.CLOSED:
                    await self._after_close_handshake()
                    return
                if not self._feed(await self._read_once()):
                    self._peer_eof()
                    return
        except TRANSPORT_ERRORS as exc:
            if self._aborting:
                cancelled = True  # _abort() closed the stream under us
            else:
                self._record_cause(exc)
        except trio.Cancelled:
            # Whoever cancelled us (aclose, _fail, a cancelled nursery) knows
            # better why the connection ends: leave the reason to _abort.
            cancelled = True
            raise
        finally:
            self._finish(record_reason=not cancelled)

    async def _dispatch(self) -> None:
        """Hand the protocol's events over; settle paused fragmented messages."""
        protocol = self._protocol
        queue = self._queue
        while True:
            if protocol.has_data_to_send:
                await self._writer.flush()
            for event in protocol.events():
                item = self._item_for(event)
                if item is None:
                    continue
                try:
                    queue.put_nowait(item)
                except trio.WouldBlock:
                    await queue.put(item)
            incoming = self._incoming
            if incoming is None:
                return
            # Parsing stopped at a fragmented message: the user's next
            # receive() or receive_stream() says how to take it.
            if self._discard_messages:
                incoming.decide(Mode.DISCARD)
            mode = await incoming.wait()
            self._incoming = None
            protocol.choose_message_mode(stream=mode is Mode.STREAM)

    def _item_for(self, event: object) -> QueueItem:
        """What an event puts in the queue (None: nothing); handles the rest."""
        kind = type(event)
        if kind is TextMessage or kind is BinaryMessage:
            item: QueueItem = event.data  # type: ignore[attr-defined]
        elif isinstance(event, MessageChunk):
            item = event
        elif isinstance(event, MessageStart):
            item = self._incoming = Incoming(event.is_text)
        else:
            if isinstance(event, Pong):
                self._pings.resolve(event.payload, trio.current_time())
            elif isinstance(event, ProtocolFailure):
                self._record_cause(event.error)
                logger.debug("peer broke the protocol: %s", event.error)
            return None
        return None if self._discard_messages else item

    # ------------------------------------------------------------ inline

    async def _read_inline(self) -> None:
        """Read once in the caller's task (inside receive()), deliver the events.

        Only while no reader task runs. The queue is empty when this is
        called, so the overflow past its capacity is bounded by one read.
        Hands over to the reader task when the connection leaves the
        ordinary flow of messages.
        """
        reading = self._reading
        reading.move(Reading.INLINE)
        protocol = self._protocol
        try:
            if self._leftover:
                protocol.receive_data(self._leftover)
                self._leftover = b""
            else:
                try:
                    received = await self._read_once()
                except TRANSPORT_ERRORS as exc:
                    if not self._aborting:
                        self._record_cause(exc)
                    self._finish(record_reason=not self._aborting)
                    return
                if not self._feed(received):
                    self._peer_eof()
                    self._finish(record_reason=False)
                    return
            self._deliver_inline()
            if protocol.pending_failure is not None:
                self._ensure_reader()  # the reader task fails it in order
        finally:
            if reading.state is Reading.HANDOVER:
                self._start_reader()
            elif reading.state is Reading.INLINE:
                reading.move(Reading.NOBODY)
        if reading.by_task:
            return  # (the reader task writes what is queued itself)
        if self._protocol.state is State.CLOSED:
            await self._close_inline()
        elif self._protocol.has_data_to_send:
            await self._write_soon()

    async def _close_inline(self) -> None:
        """The close frames crossed while reading inline: on a server (the
        only side that reads inline) write the echo and close TCP at once
        (RFC 6455 7.1.1), shielded, bounded by ``close_timeout``."""
        # (The peer's close frame says why it ended: a failed echo adds nothing.)
        await self._flush_shielded(record_error=False, then_close=True)
        self._finish(record_reason=True)

    def _read_once(self) -> Awaitable[bytes | bytearray | int]:
        """The next read from the transport: await it, then give what it
        returns to :meth:`_feed`.

        On a plain socket, the bytes of a large frame's payload are read
        straight into the memory the protocol keeps for it (no bytes object
        per read, no copy out of it); otherwise, ``receive_some``. (A plain
        method, not a coroutine: an idle connection waits in this read, and
        one more coroutine frame would cost it ~0.3 KiB.)
        """
        stream = self._stream
        if type(stream) is trio.SocketStream:
            room = self._protocol.receive_buffer()
            if room is not None:
                return stream.socket.recv_into(room)
        return stream.receive_some(self._options.receive_size)

    def _feed(self, received: bytes | bytearray | int) -> bool:
        """Give what :meth:`_read_once` returned to the protocol; False at
        end of file."""
        if isinstance(received, int):
            if received:
                self._protocol.received_into(received)
            return received > 0
        if received:
            self._protocol.receive_data(received)
        return bool(received)

    def _deliver_inline(self) -> None:
        """Hand the protocol's events over without waiting (inline reading)."""
        queue = self._queue
        for event in self._protocol.events():
            item = self._item_for(event)
            if item is not None:
                queue.push(item)

    async def _resume_inline(self, stream: bool) -> None:
        """The user chose how to take a fragmented message: parse on (inline)."""
        self._incoming = None
        protocol = self._protocol
        protocol.choose_message_mode(stream=stream)
        self._deliver_inline()
        if protocol.pending_failure is not None or protocol.state is State.CLOSED:
            self._ensure_reader()  # it settles the end of the connection
        elif protocol.has_data_to_send:
            await self._write_soon()

    async def _write_soon(self) -> None:
        """Write what the protocol answered (pongs, a close echo) without
        exposing the stream to the caller's cancellation: by a helper task,
        or shielded and bounded by ``close_timeout``."""
        if not self._writer.write_later(self._nursery):
            await self._flush_shielded()

    async def _flush_shielded(
        self, *, record_error: bool = True, then_close: bool = False
    ) -> None:
        """Write what is queued, shielded from the caller's cancellation and
        bounded by ``close_timeout``; a transport error is recorded as the
        close cause (unless ``record_error`` is False). With ``then_close``,
        close the stream after, still shielded."""
        # One scope both shields and bounds (a cancel scope costs ~5 us: this
        # runs once per connection, on the close, and for every pong).
        deadline = trio.current_time() + seconds(self._options.close_timeout)
        with trio.CancelScope(shield=True, deadline=deadline):
            try:
                await self._writer.flush()
            except TRANSPORT_ERRORS as exc:
                if record_error:
                    self._record_cause(exc)
            if then_close:
                # (Closing is not bounded by the deadline: it does no I/O that
                # can wait, see _close_stream. The flush was the checkpoint.)
                await self._close_stream(checkpoint=False)

    def _peer_eof(self) -> None:
        """The transport ended before the closing handshake did."""
        self._protocol.receive_data(b"")
        self._record_reason(_PEER_EOF)

    def _ensure_reader(self) -> None:
        """Make sure the reader task runs (now, or after the inline read)."""
        reading = self._reading
        if reading.state is Reading.INLINE:
            reading.move(Reading.HANDOVER)
        elif reading.state is Reading.NOBODY:
            self._start_reader()

    def _start_reader(self) -> None:
        """NOBODY or HANDOVER -> TASK: start the reader task."""
        self._reading.move(Reading.TASK)
        if self._sweeper is not None:
            self._sweeper.forget(self)  # no more hand-over checks
        assert self._nursery is not None
        self._nursery.start_soon(self._reader)

    async def _fail_in_order(self) -> None:
        """Fail the connection once the user has handled the earlier messages.

        The peer broke the protocol after sending messages that are still in
        the queue. The failure marker goes behind them; the user's receive()
        reaching it fails the connection, so replies to those messages go out
        before our close frame. Bounded by ``close_timeout`` if the user does
        not receive.
        """
        protocol = self._protocol
        self._record_cause(protocol.pending_failure)
        reached = self._failure_reached = trio.Event()
        with trio.move_on_after(seconds(self._options.close_timeout)):
            if not self._discard_messages:
                await self._queue.put(None)
                await reached.wait()
        protocol.fail_pending()
        for event in protocol.events():
            if isinstance(event, ProtocolFailure):
                logger.debug("peer broke the protocol: %s", event.error)
        await self._writer.flush()
        await self._after_close_handshake()

    async def _after_close_handshake(self) -> None:
        """Close the transport once the close frames crossed (RFC 6455 7.1.1).

        The server closes TCP first; a client waits (up to ``close_timeout``)
        for the server to do so, so that the server does not hold TIME_WAIT.
        """
        with contextlib.suppress(*TRANSPORT_ERRORS):
            # Let a write in progress (a write helper's) finish first.
            await self._writer.flush()
        if not self._protocol.closes_transport_first:
            with trio.move_on_after(seconds(self._options.close_timeout)):
                while await self._stream.receive_some(self._options.receive_size):
                    pass
        await self._close_stream()

    def _finish(self, *, record_reason: bool) -> None:
        """Record the close reason and wake everyone waiting on the connection."""
        if record_reason:
            self._record_reason()
        self._queue.close()
        self._pings.wake_all()
        self._reading.move(Reading.DONE)
        if self._reader_done is not None:
            self._reader_done.set()

    async def _close_stream(self, *, checkpoint: bool = True) -> None:
        """Close the transport at once (without a TLS close_notify).

        ``checkpoint=False``: the caller has just checkpointed, so a plain
        socket is closed without another trip through the scheduler.
        """
        if self._stream_closed:
            return
        self._stream_closed = True
        stream = self._stream
        if type(stream) is trio.SocketStream:
            # What SocketStream.aclose() does, minus aclose_forcefully's
            # cancelled scope: that scope, and the Cancelled it raises, cost
            # two more trips through the scheduler (~15 us per connection).
            stream.socket.close()
            if checkpoint:
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            await trio.aclose_forcefully(stream)
