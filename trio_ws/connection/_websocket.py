"""The WebSocket connection object: the public API of a connection.

Data flow::

    send() -> Protocol.send_* -> data_to_send() -> stream.send_all (Writer)
    receive() <- queue <- reader (task or inline) <- Protocol.events() <- stream

The layers below (see _state.py) hold the fields, the reading (_reader.py)
and the closing (_closing.py). Helper tasks (reader, keepalive, write helper)
run in a nursery the caller owns (the server's, or the client's). They never
raise: they record why the connection ended, and the user's next call raises
:class:`ConnectionClosed` chained to that cause.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, cast

import trio

from .._core._events import (
    CloseReason,
    MessageChunk,
)
from .._core._frames import MAX_CONTROL_PAYLOAD
from .._core._protocol import Role, State
from .._exceptions import ConnectionClosed, LocalProtocolError
from .._scopes import hidden_nursery
from ._closing import Closing
from ._endpoint import Endpoint
from ._queue import EMPTY
from ._statistics import WebSocketStatistics, snapshot
from ._streaming import (
    Fragments,
    Incoming,
    MessageStream,
    Mode,
    QueueItem,
    fragments_of,
)
from ._sweeper import Sweeper
from ._who_reads import Reading
from ._writer import TRANSPORT_ERRORS

if TYPE_CHECKING:
    from .._core._handshake import Request

__all__ = ["Endpoint", "WebSocket"]

logger = logging.getLogger("trio_ws")


# receive() hands over messages that are already queued without yielding to
# the scheduler (it still raises at once when cancelled), but yields at least
# once every this many messages, so one busy connection cannot starve others.
# Replies sent meanwhile are batched by the Writer (see _writer.py).
MAX_RECEIVES_WITHOUT_YIELD = 32


class WebSocket(Closing, trio.abc.AsyncResource):
    """An open WebSocket connection (server or client side).

    Users get one from :func:`serve_websocket` (passed to the handler) or from
    :func:`open_websocket_url` and friends; the constructor starts nothing.

    Messages arrive on a bounded queue (``message_queue_size``). When it is
    full, the reader stops reading the socket, which pushes back on the peer
    through TCP. While it is stopped, the peer's pings are not answered and
    our keepalive pongs are not seen either: a handler that stops calling
    :meth:`receive` for longer than ``ping_timeout`` gets its connection closed
    with 1011. Keep receiving, or raise ``ping_timeout``.
    """

    __slots__ = ()

    # ------------------------------------------------------------ properties

    @property
    def is_client(self) -> bool:
        """True on the client side of the connection."""
        return self._protocol.role is Role.CLIENT

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection closed, or None while it is open (or closing).

        After a completed closing handshake this is the close frame the peer
        sent. When we closed first (``aclose(code, reason)``), that is the
        peer's echo: usually our code, and whatever reason the peer put in
        its echo (often empty), not necessarily ours. When the closing
        handshake did not complete, the code is 1006.
        """
        return self._close_reason

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or None."""
        return self._subprotocol

    @property
    def extensions(self) -> str | None:
        """The negotiated ``Sec-WebSocket-Extensions`` value, or None."""
        return self._extensions

    @property
    def request(self) -> Request | None:
        """The opening handshake request (path, query, headers); None on a client."""
        return self._request

    @property
    def local(self) -> Endpoint | None:
        """This end's address, or None when the transport is not a socket."""
        return self._local

    @property
    def remote(self) -> Endpoint | None:
        """The peer's address, or None when the transport is not a socket."""
        return self._remote

    def statistics(self) -> WebSocketStatistics:
        """A snapshot of what this connection has done (see the record)."""
        return snapshot(
            self._protocol,
            self._pings,
            self._close_reason,
            queued=len(self._queue),
            capacity=self._options.message_queue_size,
        )

    # ------------------------------------------------------------- lifecycle

    def _start(self, nursery: trio.Nursery, sweeper: Sweeper | None = None) -> None:
        """Start the connection's helpers in ``nursery``.

        With a ``sweeper`` (plain server connections), nothing starts now:
        the handler reads inline and the sweeper does keepalive (see
        _sweeper.py). Otherwise the reader (and keepalive) tasks start.
        """
        self._nursery = nursery  # also runs the batched-write helper
        if sweeper is None or isinstance(self._stream, trio.SSLStream):
            # (A cancelled read may break a TLS stream: no inline reading.)
            self._reading.move(Reading.TASK)
            nursery.start_soon(self._run_helpers)
            return
        self._sweeper = sweeper
        now = trio.current_time()
        interval = self._options.ping_interval
        sweeper.add(self, now, None if interval is None else now + interval)

    async def _run_helpers(self) -> None:
        # The reader needs no cancel scope: _abort() closes the stream and the
        # queue, which wakes it wherever it waits. Without keepalive there is
        # no nursery either (memory per idle connection counts).
        options = self._options
        if options.ping_interval is None:
            await self._reader()
            return
        async with hidden_nursery() as nursery:
            self._helpers_scope = nursery.cancel_scope
            nursery.start_soon(self._keepalive_task, options.ping_interval)
            await self._reader()
            nursery.cancel_scope.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``async with ws:`` closes with 1000 at the end of the block.

        An exception leaving the block wins: if the close fails meanwhile
        (the transport is gone) or is cancelled, the block's exception
        propagates unchanged, and the connection is released all the same.
        """
        if exc_value is None:
            await self.aclose()
            return
        with contextlib.suppress(Exception, trio.Cancelled):
            await self.aclose()  # (a failure here: the block's error says more)

    async def _keepalive_task(self, interval: float) -> None:
        """Keepalive for connections without a sweeper: the same rule
        (:meth:`_keepalive_step`), woken by its own timer."""
        when: float | None = trio.current_time() + interval
        while when is not None:
            await trio.sleep_until(when)
            when = self._keepalive_step(trio.current_time())

    # ------------------------------------------------------------------ send

    async def send(
        self,
        message: str | bytes | bytearray | memoryview | Fragments,
        *,
        compress: bool | None = None,
    ) -> None:
        """Send one message: ``str`` as text, bytes-like as binary.

        An iterable or async iterable of ``str`` (or of bytes-like) sends
        one text (or binary) message in fragments, a frame per item, each
        written as it comes: for messages too big to hold in memory, or
        produced over time. Nothing is sent for an empty iterable. If the
        iterable raises (or the call is cancelled) mid-message, the message
        cannot be finished: the connection is closed with 1011 and the
        error propagates.

        Concurrent calls from several tasks are safe; their messages are sent
        whole, one after the other (a fragmented message's frames are never
        interleaved with another message's), first come first served; a
        send() cancelled while it waits for its turn sends nothing.
        Normally the message has been handed to the transport when send()
        returns. While more received messages wait in the queue, send() may
        return once the frame is buffered (at most 64 KiB): it is written,
        together with the next replies, as soon as this task yields; a
        transport error then surfaces on the next call.

        Args:
            compress: with permessage-deflate negotiated, None (default)
                compresses messages at or over the size threshold (and every
                fragmented message); False sends this message uncompressed
                (for data that is already compressed: JPEG, gzip...); True
                compresses it whatever its size. Ignored when compression was
                not negotiated.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: ``message`` (or a fragment) is neither text nor
                bytes-like, or fragments mix text and bytes.
            LocalProtocolError: the connection cannot carry this message
                (bytes or fragments on a legacy draft-76 connection, which
                sends each text message in one piece).
        """
        # Cancelled already? Then before anything is queued: once its frame
        # has left the protocol, a send can no longer be called off.
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            while self._fragmenting is not None:
                await self._fragmenting.wait()
            if self._protocol.state is not State.OPEN:
                raise self._closed_error()
            # (A tuple, not a union: isinstance() with a union costs ~0.15 us
            # more, on the per-message path.)
            if not isinstance(message, (str, bytes, bytearray, memoryview)):
                if isinstance(message, Iterable | AsyncIterable):
                    # (bytes-like iterables were taken by the branch above.)
                    await self._send_fragments(cast(Fragments, message), compress)
                    return
                raise TypeError(
                    "message must be str, bytes-like or an iterable of them, "
                    f"not {type(message).__name__}"
                )
            writer = self._writer
            if not writer.busy or (
                self._queue and writer.would_defer(_size_bound(message), self._nursery)
            ):
                break  # written at once, or left for the write helper
            # Another write is in progress: take the turn first, then queue
            # the frame. A send cancelled while it waits has sent nothing, and
            # waiting senders hold no frames in the protocol's buffer.
            await writer.acquire()
            try:
                if self._fragmenting is None:  # (else wait for it, and retry)
                    self._serialize(message, compress)
                    await self._send_or_close(holding_turn=True)
                    return
            finally:
                writer.release()
        self._serialize(message, compress)
        if self._can_defer_write():
            return
        await self._send_or_close()

    def _serialize(
        self, message: str | bytes | bytearray | memoryview, compress: bool | None
    ) -> None:
        """Queue one message's frame in the protocol's buffer."""
        protocol = self._protocol
        try:
            if isinstance(message, str):
                protocol.send_text(message, compress=compress)
            else:
                protocol.send_binary(message, compress=compress)
        except LocalProtocolError as exc:
            if protocol.state is State.OPEN:
                raise  # refused, not closed: e.g. bytes on draft-76
            # Chained to why the connection closed, when that is known.
            raise self._closed_error() from (self._close_cause or exc)

    async def _send_fragments(
        self, fragments: Fragments, compress: bool | None
    ) -> None:
        """Send one message with a frame per item (see send())."""
        protocol = self._protocol
        done = self._fragmenting = trio.Event()
        previous: str | bytes | None = None
        try:
            # One item of lookahead: the last fragment carries FIN.
            async with contextlib.aclosing(fragments_of(fragments)) as items:
                async for fragment in items:
                    if previous is not None:
                        protocol.send_fragment(previous, final=False, compress=compress)
                        await self._send_or_close()
                    previous = fragment
            if previous is not None:
                protocol.send_fragment(previous, final=True, compress=compress)
                await self._send_or_close()
        except BaseException as exc:
            if protocol.sending_fragments and protocol.state is State.OPEN:
                # A message cut short cannot be finished (RFC 6455 5.4): close.
                await self._fail(1011, "message could not be finished", exc)
            raise
        finally:
            self._fragmenting = None
            done.set()

    def _can_defer_write(self) -> bool:
        """Leave the frame for the write helper? (Batches replies under load.)

        Only while more messages are already queued for receive(): the caller
        is working through a burst and its next replies can share one write.
        The helper runs as soon as this task yields (receive() yields at least
        every MAX_RECEIVES_WITHOUT_YIELD messages, and whenever it waits).
        """
        return bool(self._queue) and self._writer.write_later(self._nursery)

    send_message = send  # trio-websocket name

    async def _send_or_close(self, *, holding_turn: bool = False) -> None:
        try:
            if holding_turn:
                await self._writer.write_queued()
            else:
                await self._writer.flush()
        except TRANSPORT_ERRORS as exc:
            self._record_cause(exc)
            await self._abort()
            # The recorded cause (e.g. a keepalive timeout that closed the
            # stream under this write) says more than the write's own error.
            raise self._closed_error() from self._close_cause

    async def receive(self) -> str | bytes:
        """Wait for the next message: ``str`` for text, ``bytes`` for binary.

        The whole message is returned; it may be up to ``max_message_size``
        bytes (a bigger one closes the connection with 1009). Use
        :meth:`receive_stream` for bigger messages.

        Raises:
            ConnectionClosed: the connection closed (``.reason`` says how) and
                every message received before the close was already returned.
        """
        while True:
            item = await self._next_item()
            if type(item) is str or type(item) is bytes:
                return item
            if isinstance(item, Incoming):
                await self._decide(item, Mode.WHOLE)
            # Else: a chunk of a streamed message left unread, skipped.

    async def receive_stream(self) -> MessageStream:
        """Wait for the next message and receive it chunk by chunk.

        Returns:
            A :class:`MessageStream`: ``async for chunk in stream`` gives
            ``str`` chunks for a text message, ``bytes`` for a binary one,
            one per frame as it arrives. The message as a whole is not
            limited by ``max_message_size`` (each frame still is), so a
            peer can stream more than that in fragments; ``max_fragments``
            still bounds the frame count. A message sent in one frame comes
            as one chunk.

        Raises:
            ConnectionClosed: as for :meth:`receive`; iterating the stream
                raises it too if the connection closes before the message
                ends.
        """
        while True:
            item = await self._next_item()
            generation = self._receive_generation
            if isinstance(item, str):
                return MessageStream(
                    self._next_chunk, generation, is_text=True, single=item
                )
            if isinstance(item, bytes):
                return MessageStream(
                    self._next_chunk, generation, is_text=False, single=item
                )
            if isinstance(item, Incoming):
                await self._decide(item, Mode.STREAM)
                return MessageStream(self._next_chunk, generation, is_text=item.is_text)

    async def _next_chunk(self, generation: int) -> MessageChunk:
        if generation != self._receive_generation:
            raise RuntimeError("this MessageStream was left for a newer receive call")
        item = await self._get()
        assert isinstance(item, MessageChunk)  # the queue holds its chunks next
        return item

    async def _next_item(self) -> QueueItem:
        self._receive_generation += 1
        return await self._get()

    async def _get(self) -> QueueItem:
        """The next queue item; raises ConnectionClosed at the end or a fault."""
        await trio.lowlevel.checkpoint_if_cancelled()
        item = self._queue.take()
        if item is EMPTY:
            self._receives_without_yield = 0
            try:
                item = await self._wait_item()
            except trio.EndOfChannel:
                raise self._closed_error() from self._close_cause
        elif item is not None:
            # Already queued: no need to yield for each one (see the
            # constant), which lets replies sent meanwhile share a write.
            self._receives_without_yield += 1
            if self._receives_without_yield >= MAX_RECEIVES_WITHOUT_YIELD:
                self._receives_without_yield = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
        if item is not None:
            return item  # type: ignore[return-value]
        self._reached_failure()  # the marker where the peer broke the protocol
        raise self._closed_error()

    async def _wait_item(self) -> QueueItem:
        """Wait for an item: read inline while no reader task runs."""
        queue = self._queue
        sweeper = self._sweeper
        if queue.closed:
            raise trio.EndOfChannel
        reading = self._reading
        if sweeper is None or not reading.may_read_inline:
            return await queue.get()
        if reading.inline_now:  # another task reads inline: let a reader serve both
            self._ensure_reader()
            return await queue.get()
        sweeper.back(self)
        try:
            while reading.may_read_inline:
                await self._read_inline()
                item = queue.take()
                if item is not EMPTY:
                    return item  # type: ignore[return-value]
                if queue.closed:
                    raise trio.EndOfChannel
            return await queue.get()
        finally:
            if reading.may_read_inline:
                sweeper.away(self, trio.current_time())

    async def _decide(self, incoming: Incoming, mode: Mode) -> None:
        """Take a fragmented message whole or streamed; resume parsing."""
        incoming.decide(mode)
        if self._reading.may_read_inline and self._incoming is incoming:
            await self._resume_inline(stream=mode is Mode.STREAM)

    get_message = receive  # trio-websocket name

    def __aiter__(self) -> WebSocket:
        """``async for message in ws``: messages until the connection closes.

        The loop ends quietly on a normal close (1000 or 1001) and raises
        :class:`ConnectionClosed` on any other close.
        """
        return self

    async def __anext__(self) -> str | bytes:
        # A method rather than an async generator: one object less per
        # connection, and nothing to finalize if the loop is abandoned.
        try:
            return await self.receive()
        except ConnectionClosed as exc:
            if exc.reason.code in (1000, 1001):
                raise StopAsyncIteration from None
            raise

    async def ping(self, payload: bytes | None = None) -> float:
        """Send a ping and wait for the matching pong.

        Args:
            payload: up to 125 bytes; by default 8 random bytes. Payloads of
                pings still waiting for their pong must be distinct.

        Returns:
            The round-trip time in seconds.

        Raises:
            ConnectionClosed: the connection closed before the pong arrived.
            ValueError: the payload is in use by another pending ping, or too long.
            LocalProtocolError: the connection has no pings (legacy draft-76).
        """
        if payload is None:
            payload = os.urandom(8)
        if payload in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        if self._protocol.state is not State.OPEN:
            raise self._closed_error()
        _check_control_payload(payload)
        self._protocol.send_ping(payload)
        pending = self._pings.add(payload, trio.current_time())
        if not self._reading.inline_now:
            self._ensure_reader()  # someone must read the pong
        try:
            await self._send_or_close()
            await pending.event.wait()
        finally:
            self._pings.discard(payload)
        if pending.answered_at is None:
            raise self._closed_error()
        return pending.answered_at - pending.sent_at

    async def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a unidirectional heartbeat, RFC 6455 5.5.3).

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: the payload is over 125 bytes.
            LocalProtocolError: the connection has no pongs (legacy draft-76).
        """
        if self._protocol.state is not State.OPEN:
            raise self._closed_error()
        _check_control_payload(payload)
        self._protocol.send_pong(payload)
        await self._send_or_close()


def _check_control_payload(payload: bytes) -> None:
    # RFC 6455 5.5: a bad argument (ValueError), checked before the protocol
    # may refuse the command itself (LocalProtocolError, e.g. on draft-76).
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ValueError(
            f"control frame payload of {len(payload)} bytes "
            f"(limit {MAX_CONTROL_PAYLOAD})"
        )


def _size_bound(message: str | bytes | bytearray | memoryview) -> int:
    """At most how many bytes the frame of ``message`` takes (UTF-8 needs up
    to 4 bytes a character; the header and deflate's worst case fit in the
    rest)."""
    if isinstance(message, str):
        size = 4 * len(message)
    elif isinstance(message, memoryview):
        size = message.nbytes
    else:
        size = len(message)
    return size + size // 1000 + 64
