"""Reading a connection: transport -> protocol -> message queue.

One object per connection owns everything about reading: who reads (the
table in _who_reads.py), the read itself, handing the protocol's events to
the message queue, and what happens when reading ends. Two ways to read,
one read step (:meth:`Reader._took` after :meth:`Reader._read_once`) shared
by both:

- the reader task (:meth:`Reader.run`): reads until the connection ends,
  waiting when the queue is full (backpressure), and ends the connection
  when the closing handshake is done, the peer failed, or the transport
  died. It never raises: it records why the connection ended. Clients, TLS
  connections and streams wrapped by hand start it at once.
- inline (:meth:`Reader.wait_item`), on plain server connections: the
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

from .._core._buffers import EventEntry
from .._core._events import (
    CloseReason,
    MessageChunk,
    MessageStart,
    Pong,
    ProtocolFailure,
)
from .._core._interface import ProtocolLike
from .._core._protocol import State
from .._options import ConnectionOptions, seconds
from ._ending import Ending
from ._keepalive import PingTracker
from ._queue import EMPTY, MessageQueue
from ._streaming import Incoming, Mode, QueueItem
from ._sweeper import Sweepable, Sweeper
from ._who_reads import INLINE_NOW, MAY_READ_INLINE, Reading, move
from ._writer import TRANSPORT_ERRORS, Writer

__all__ = ["Reader"]

logger = logging.getLogger("trio_ws")

_PEER_EOF = CloseReason(1006, "the peer closed the connection without a close frame")


class Reader:
    """The reading side of one connection.

    Args:
        stream, protocol, options: the connection's.
        queue: where messages go (``receive()`` takes them out).
        pings: resolved by the peer's pongs.
        writer: writes what the protocol answers (pongs, the close echo).
        ending: where the end of the connection is recorded.
        leftover: bytes read past the opening handshake.

    Attributes:
        state: who reads now (a :class:`Reading`; the table is in
            _who_reads.py).
        discard: set by ``aclose()``: messages arriving from now on are
            dropped instead of queued.
        nursery: where the connection's helper tasks run (set by
            :meth:`attach`).
        sweeper: the server's sweeper while it knows the connection (plain
            server connections: the handler reads inline, and the sweeper
            hands over to a task when it stays away), else None.
    """

    __slots__ = (
        "_done_event",
        "_ending",
        "_failure_reached",
        "_incoming",
        "_key",
        "_leftover",
        "_options",
        "_pings",
        "_protocol",
        "_queue",
        "_stream",
        "_writer",
        "discard",
        "nursery",
        "state",
        "sweeper",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: ProtocolLike,
        options: ConnectionOptions,
        *,
        queue: MessageQueue[QueueItem],
        pings: PingTracker,
        writer: Writer,
        ending: Ending,
        leftover: bytes = b"",
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._options = options
        self._queue = queue
        self._pings = pings
        self._writer = writer
        self._ending = ending
        self._leftover = leftover
        self.state = Reading.NOBODY
        self.discard = False
        # The fragmented message waiting for receive() or receive_stream().
        self._incoming: Incoming | None = None
        # Created only when a peer fault has to wait for the user (rare).
        self._failure_reached: trio.Event | None = None
        # Set when reading is over; created only once someone waits for it.
        self._done_event: trio.Event | None = None
        self.nursery: trio.Nursery | None = None
        self.sweeper: Sweeper | None = None
        # What the sweeper knows the connection by.
        self._key: Sweepable | None = None

    def attach(
        self, nursery: trio.Nursery, sweeper: Sweeper | None, key: Sweepable
    ) -> None:
        """Where the reader task will run, and the sweeper (None: read by a
        task from the start; call :meth:`start_task` then)."""
        self.nursery = nursery
        self.sweeper = sweeper
        self._key = key

    def leave_sweeper(self) -> None:
        """The connection ended: the sweeper forgets it, in both its jobs."""
        sweeper = self.sweeper
        if sweeper is not None:
            self.sweeper = None
            sweeper.remove(self._key)

    # ------------------------------------------------------------ the task

    def ensure_task(self) -> None:
        """Make sure the reader task runs (now, or after the inline read)."""
        state = self.state
        if state is Reading.INLINE:
            self.state = move(state, Reading.HANDOVER)
        elif state is Reading.NOBODY:
            self.start_task()

    def start_task(self, *, spawn: bool = True) -> None:
        """NOBODY or HANDOVER -> TASK: start the reader task (``spawn=False``:
        the caller runs :meth:`run` itself)."""
        self.state = move(self.state, Reading.TASK)
        if self.sweeper is not None:
            self.sweeper.forget(self._key)  # no more hand-over checks
        if spawn:
            assert self.nursery is not None
            self.nursery.start_soon(self.run)

    async def run(self) -> None:
        """The reader task: read until the connection ends; never raises
        but Cancelled (it records why the connection ended)."""
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
                if not self._took(await self._read_once()):
                    return
        except TRANSPORT_ERRORS as exc:
            if self._ending.aborting:
                cancelled = True  # abort() closed the stream under us
            else:
                self._ending.record_cause(exc)
        except trio.Cancelled:
            # Whoever cancelled us (aclose, a failure, a cancelled nursery)
            # knows better why the connection ends: leave the reason to it.
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
            for event in protocol.take_events():
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
            if self.discard:
                incoming.decide(Mode.DISCARD)
            mode = await incoming.wait()
            self._incoming = None
            protocol.choose_message_mode(stream=mode is Mode.STREAM)

    def _item_for(self, event: EventEntry) -> QueueItem:
        """What an entry of ``take_events()`` puts in the queue (None:
        nothing); handles the rest."""
        kind = type(event)
        if kind is str or kind is bytes:  # a whole message, as its payload
            item: QueueItem = event  # type: ignore[assignment]
        elif isinstance(event, MessageChunk):
            item = event
        elif isinstance(event, MessageStart):
            item = self._incoming = Incoming(event.is_text)
        else:
            if isinstance(event, Pong):
                self._pings.resolve(event.payload, trio.current_time())
            elif isinstance(event, ProtocolFailure):
                self._ending.record_cause(event.error)
                logger.debug("peer broke the protocol: %s", event.error)
            return None
        return None if self.discard else item

    # ------------------------------------------------------ the read step

    def _took(self, received: bytes | bytearray | int) -> bool:
        """Give what :meth:`_read_once` returned to the protocol; False at
        end of stream (recorded). The one read step of both ways of reading
        is ``self._took(await self._read_once())``: no coroutine of its own,
        since an idle connection waits inside it and a frame costs memory.
        """
        protocol = self._protocol
        if isinstance(received, int):  # a recv_into() into the payload
            if received:
                protocol.received_into(received)
                return True
        elif received:
            protocol.receive_data(received)
            return True
        protocol.receive_data(b"")
        self._ending.record_reason(_PEER_EOF)
        return False

    def _read_once(self) -> Awaitable[bytes | bytearray | int]:
        """The next read from the transport: await it, then give what it
        returns to :meth:`_took`.

        On a plain socket, the bytes of a large frame's payload are read
        straight into the memory the protocol keeps for it (no bytes object
        per read, no copy out of it); otherwise, ``receive_some``. (A plain
        method, not a coroutine: an idle connection waits in this read, and
        one more coroutine frame would cost memory on each of them.)
        """
        stream = self._stream
        if type(stream) is trio.SocketStream:
            room = self._protocol.receive_buffer()
            if room is not None:
                return stream.socket.recv_into(room)
        return stream.receive_some(self._options.receive_size)

    # ------------------------------------------------------------ inline

    async def wait_item(self) -> QueueItem:
        """Wait for the next queue item (the queue was empty): read inline
        while no reader task runs.

        Raises:
            trio.EndOfChannel: reading is over and the queue is empty.
        """
        queue = self._queue
        sweeper = self.sweeper
        if queue.closed:
            raise trio.EndOfChannel
        if sweeper is None or self.state not in MAY_READ_INLINE:
            return await queue.get()
        if self.state in INLINE_NOW:  # another task reads inline: a task serves both
            self.ensure_task()
            return await queue.get()
        sweeper.back(self._key)
        try:
            while self.state in MAY_READ_INLINE:
                await self._read_inline()
                item = queue.take()
                if item is not EMPTY:
                    return item  # type: ignore[return-value]
                if queue.closed:
                    raise trio.EndOfChannel
            return await queue.get()
        finally:
            # (The sweeper as it is now: a connection that ended meanwhile
            # has left it, and must not be put back.)
            if self.state in MAY_READ_INLINE and self.sweeper is not None:
                assert self._key is not None
                self.sweeper.away(self._key, trio.current_time())

    async def _read_inline(self) -> None:
        """Read once in the caller's task (inside receive()), deliver the events.

        Only while no reader task runs. The queue is empty when this is
        called, so the overflow past its capacity is bounded by one read.
        Hands over to the reader task when the connection leaves the
        ordinary flow of messages.
        """
        # (NOBODY -> INLINE, and back below: checked without a call, as this
        # runs for every inline read.)
        if self.state is not Reading.NOBODY:
            move(self.state, Reading.INLINE)  # raises: not from this state
        self.state = Reading.INLINE
        protocol = self._protocol
        ending = self._ending
        try:
            if self._leftover:
                protocol.receive_data(self._leftover)
                self._leftover = b""
            else:
                try:
                    more = self._took(await self._read_once())
                except TRANSPORT_ERRORS as exc:
                    if not ending.aborting:
                        ending.record_cause(exc)
                    self._finish(record_reason=not ending.aborting)
                    return
                if not more:
                    self._finish(record_reason=False)
                    return
            self._deliver_inline()
            if protocol.pending_failure is not None:
                self.ensure_task()  # the reader task fails it in order
        finally:
            if self.state is Reading.HANDOVER:
                self.start_task()
            elif self.state is Reading.INLINE:
                self.state = Reading.NOBODY  # (allowed by the table)
        if self.state is Reading.TASK:
            return  # (the reader task writes what is queued itself)
        if protocol.state is State.CLOSED:
            # The close frames crossed while reading inline: on a server (the
            # only side that reads inline) write the echo and close TCP at
            # once (RFC 6455 7.1.1). The peer's close frame says why it
            # ended: a failed echo adds nothing.
            await self._writer.flush_shielded(record_error=False, then_close=True)
            self._finish(record_reason=True)
        elif protocol.has_data_to_send:
            await self._writer.write_soon(self.nursery)

    def _deliver_inline(self) -> None:
        """Hand the protocol's events over without waiting (inline reading)."""
        items: list[QueueItem] = []
        for event in self._protocol.take_events():
            kind = type(event)
            # (Whole messages, nearly every entry, without a call each.)
            item = event if kind is str or kind is bytes else self._item_for(event)
            if item is not None:
                items.append(item)  # type: ignore[arg-type]
        if items and not self.discard:
            self._queue.push_all(items)

    async def decide(self, incoming: Incoming, mode: Mode) -> None:
        """The user takes a fragmented message whole or streamed: parse on."""
        incoming.decide(mode)
        if self.state not in MAY_READ_INLINE or self._incoming is not incoming:
            return  # (the reader task waits for the decision itself)
        self._incoming = None
        protocol = self._protocol
        protocol.choose_message_mode(stream=mode is Mode.STREAM)
        self._deliver_inline()
        if protocol.pending_failure is not None or protocol.state is State.CLOSED:
            self.ensure_task()  # it settles the end of the connection
        elif protocol.has_data_to_send:
            await self._writer.write_soon(self.nursery)

    # ------------------------------------------------------------ the end

    async def _fail_in_order(self) -> None:
        """Fail the connection once the user has handled the earlier messages.

        The peer broke the protocol after sending messages that are still in
        the queue. The failure marker goes behind them; the user's receive()
        reaching it fails the connection, so replies to those messages go out
        before our close frame. Bounded by ``close_timeout`` if the user does
        not receive.
        """
        protocol = self._protocol
        self._ending.record_cause(protocol.pending_failure)
        reached = self._failure_reached = trio.Event()
        with trio.move_on_after(seconds(self._options.close_timeout)):
            if not self.discard:
                await self._queue.put(None)
                await reached.wait()
        protocol.fail_pending()
        for event in protocol.take_events():
            if isinstance(event, ProtocolFailure):
                logger.debug("peer broke the protocol: %s", event.error)
        await self._writer.flush()
        await self._after_close_handshake()

    def reached_failure(self) -> None:
        """The user got every message sent before the peer's fault: fail now."""
        self._protocol.fail_pending()
        if self._failure_reached is not None:
            self._failure_reached.set()

    async def _after_close_handshake(self) -> None:
        """Close the transport once the close frames crossed (RFC 6455 7.1.1):
        the side the protocol names closes TCP first; the other waits (up to
        ``close_timeout``) for it, so that the server does not hold TIME_WAIT.
        """
        with contextlib.suppress(*TRANSPORT_ERRORS):
            # Let a write in progress (a write helper's) finish first.
            await self._writer.flush()
        if not self._protocol.closes_transport_first:
            with trio.move_on_after(seconds(self._options.close_timeout)):
                while await self._stream.receive_some(self._options.receive_size):
                    pass
        await self._ending.close_stream()

    def _finish(self, *, record_reason: bool) -> None:
        """Reading is over: record the close reason, wake every waiter."""
        if record_reason:
            self._ending.record_reason()
        self._queue.close()
        self._pings.wake_all()
        self.state = move(self.state, Reading.DONE)
        if self._done_event is not None:
            self._done_event.set()

    async def wait_done(self) -> None:
        """Wait until reading is over."""
        if self.state is Reading.DONE:
            return
        if self._done_event is None:
            self._done_event = trio.Event()
        await self._done_event.wait()

    def discard_all(self) -> None:
        """Drop what is queued and whatever arrives from now on (aclose())."""
        self.discard = True
        queue = self._queue
        while True:
            try:
                message = queue.get_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if message is None:
                self.reached_failure()
            elif isinstance(message, Incoming):
                message.decide(Mode.DISCARD)

    def stop(self) -> None:
        """The connection is torn down: wake a reader blocked on a full queue
        or waiting for a receiving mode, and every ping waiter."""
        self._queue.close()
        if self._incoming is not None:
            self._incoming.decide(Mode.DISCARD)
        self._pings.wake_all()
