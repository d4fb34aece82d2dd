"""The WebSocket connection object: a reader task, a message queue, a send lock.

Data flow::

    send() -> Protocol.send_* -> data_to_send() -> stream.send_all (send lock)
    receive() <- queue <- reader task <- Protocol.events() <- stream.receive_some

The reader task and the keepalive task run in a nursery the caller owns (the
server's per-connection nursery, or the client's). They never raise: they
record why the connection ended, and the user's next call raises
:class:`ConnectionClosed` chained to that cause.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, cast

import trio

from ._core._events import (
    CloseReason,
    MessageChunk,
)
from ._core._frames import MAX_CONTROL_PAYLOAD
from ._core._interface import ProtocolLike
from ._core._protocol import Role, State
from ._endpoint import Endpoint, endpoint_of
from ._exceptions import ConnectionClosed, LocalProtocolError
from ._keepalive import KeepaliveTimeout, PendingPing, PingTracker, keepalive
from ._options import ConnectionOptions, seconds
from ._queue import MessageQueue
from ._reader import Reader
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
from ._writer import TRANSPORT_ERRORS, Writer

if TYPE_CHECKING:
    from ._core._handshake import Request

__all__ = ["Endpoint", "WebSocket"]

logger = logging.getLogger("trio_ws")


# receive() hands over messages that are already queued without yielding to
# the scheduler (it still raises at once when cancelled), but yields at least
# once every this many messages, so one busy connection cannot starve others.
# Replies sent meanwhile are batched by the Writer (see _writer.py).
MAX_RECEIVES_WITHOUT_YIELD = 32


class WebSocket(Reader):
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

    __slots__ = (
        "_aborting",
        "_discard_messages",
        "_extensions",
        "_fragmenting",
        "_helpers_scope",
        "_keepalive_ping",
        "_local",
        "_nursery",
        "_options",
        "_pings",
        "_protocol",
        "_queue",
        "_reader_done",
        "_receive_generation",
        "_receives_without_yield",
        "_remote",
        "_request",
        "_stream",
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
        self._writer = Writer(stream, protocol, self._write_failed)
        # Messages for receive() (see QueueItem); None marks where the peer
        # broke the protocol.
        self._queue = MessageQueue[QueueItem](options.message_queue_size)
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
        # Set when the reader task has ended; the event only exists once
        # someone waits for it (an Event costs ~0.4 KiB per connection).
        self._reader_finished = False
        # Who reads (see _reader.py): the reader task once started, else the
        # receiving task inline (a server's plain connections only).
        self._reader_started = False
        self._reader_wanted = False
        self._inline = False
        self._sweeper: Sweeper | None = None
        # The sweeper's keepalive ping waiting for its pong.
        self._keepalive_ping: PendingPing | None = None
        self._reader_done: trio.Event | None = None
        self._stream_closed = False
        self._helpers_scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._receives_without_yield = 0
        self._aborting = False
        # Read once: the socket cannot tell them any more after it is closed.
        self._local = endpoint_of(stream, local=True)
        self._remote = endpoint_of(stream, local=False)

    # ------------------------------------------------------------ properties

    @property
    def is_client(self) -> bool:
        """True on the client side of the connection."""
        return self._protocol.role is Role.CLIENT

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection closed, or None while it is open (or closing)."""
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
            self._reader_started = True
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
        async with trio.open_nursery() as nursery:
            self._helpers_scope = nursery.cancel_scope
            nursery.start_soon(
                keepalive,
                self.ping,
                self._keepalive_failed,
                options.ping_interval,
                options.ping_timeout,
            )
            await self._reader()
            nursery.cancel_scope.cancel()

    # Sweeper callbacks (see _sweeper.py).

    def _hand_over(self) -> None:
        self._ensure_reader()

    def _on_reader_start(self) -> None:
        if self._sweeper is not None:
            self._sweeper.forget(self)

    def _keepalive_step(self, now: float) -> float | None:
        """Keepalive by the sweeper: ping, or check the pending ping.

        Returns when to be called next, or None when keepalive is over.
        """
        options = self._options
        interval = options.ping_interval
        if interval is None or self._reader_finished or self._aborting:
            return None
        if self._protocol.state is not State.OPEN:
            return None
        ping = self._keepalive_ping
        if ping is not None:
            if ping.answered_at is not None:
                self._keepalive_ping = None
                return max(now, ping.sent_at + interval)
            timeout = options.ping_timeout
            if timeout is not None and now - ping.sent_at >= timeout:
                cause = KeepaliveTimeout(
                    f"no pong within {timeout} s of a keepalive ping"
                )
                assert self._nursery is not None
                self._nursery.start_soon(self._keepalive_failed, cause)
                return None
            return now + interval if timeout is None else ping.sent_at + timeout
        payload = os.urandom(8)
        self._protocol.send_ping(payload)
        self._keepalive_ping = self._pings.add(payload, now)
        if not self._inline:
            self._ensure_reader()  # someone must read the pong
        if not self._writer.write_later(self._nursery):
            assert self._nursery is not None
            self._nursery.start_soon(self._write_soon)
        timeout = options.ping_timeout
        # Look again when the next ping is due or the pong is late.
        return now + (interval if timeout is None else min(interval, timeout))

    async def _keepalive_failed(self, cause: BaseException) -> None:
        await self._fail(1011, "keepalive ping timeout", cause)

    @property
    def _released(self) -> bool:
        """True once the close reason is known and the stream is closed."""
        return self._stream_closed and self._close_reason is not None

    # ------------------------------------------------------------------ send

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
        interleaved with another message's). Normally the message has been
        handed to the transport when send() returns. While more received
        messages wait in the queue, send() may return once the frame is
        buffered (at most 64 KiB): it is written, together with the next
        replies, as soon as this task yields; a transport error then
        surfaces on the next call.

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
        while self._fragmenting is not None:
            await self._fragmenting.wait()
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            raise self._closed_error()
        try:
            if isinstance(message, str):
                protocol.send_text(message, compress=compress)
            elif isinstance(message, bytes | bytearray | memoryview):
                protocol.send_binary(message, compress=compress)
            elif isinstance(message, Iterable | AsyncIterable):
                # (bytes-like iterables were taken by the branch above.)
                await self._send_fragments(cast(Fragments, message), compress)
                return
            else:
                raise TypeError(
                    "message must be str, bytes-like or an iterable of them, "
                    f"not {type(message).__name__}"
                )
        except LocalProtocolError as exc:
            if protocol.state is State.OPEN:
                raise  # refused, not closed: e.g. bytes on draft-76
            raise self._closed_error() from exc
        if self._can_defer_write():
            await trio.lowlevel.checkpoint_if_cancelled()
            return
        await self._send_or_close()

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

    async def _write_failed(self, exc: BaseException) -> None:
        """A deferred write failed: the transport is gone."""
        if not self._aborting and self._close_cause is None:
            self._close_cause = exc
        await self._abort()

    send_message = send  # trio-websocket name

    async def _send_or_close(self) -> None:
        try:
            await self._writer.flush()
        except TRANSPORT_ERRORS as exc:
            if self._close_cause is None:
                self._close_cause = exc
            await self._abort()
            raise self._closed_error() from exc

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
        queue = self._queue
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                item = queue.get_nowait()
            except trio.WouldBlock:
                self._receives_without_yield = 0
                item = await self._wait_item()
            else:
                # Already queued: no need to yield for each one (see the
                # constant), which lets replies sent meanwhile share a write.
                self._receives_without_yield += 1
                if self._receives_without_yield >= MAX_RECEIVES_WITHOUT_YIELD:
                    self._receives_without_yield = 0
                    await trio.lowlevel.cancel_shielded_checkpoint()
        except trio.EndOfChannel:
            item = None
        else:
            if item is not None:
                return item
            self._reached_failure()
        raise self._closed_error()  # outside the except: keep __cause__, no context

    async def _wait_item(self) -> QueueItem:
        """Wait for an item: read inline while no reader task runs."""
        queue = self._queue
        sweeper = self._sweeper
        if sweeper is None or self._reader_started:
            return await queue.get()
        if self._inline:  # another task reads inline: let a reader serve both
            self._ensure_reader()
            return await queue.get()
        sweeper.back(self)
        try:
            while not self._reader_started:
                await self._read_inline()
                try:
                    return queue.get_nowait()
                except trio.WouldBlock:
                    pass
            return await queue.get()
        finally:
            if not self._reader_started and not self._reader_finished:
                sweeper.away(self, trio.current_time())

    async def _decide(self, incoming: Incoming, mode: Mode) -> None:
        """Take a fragmented message whole or streamed; resume parsing."""
        incoming.decide(mode)
        if not self._reader_started and self._incoming is incoming:
            await self._resume_inline(stream=mode is Mode.STREAM)

    def _reached_failure(self) -> None:
        """The user got every message sent before the peer's fault: fail now."""
        self._protocol.fail_pending()
        if self._failure_reached is not None:
            self._failure_reached.set()

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
        if not self._inline:
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

    # ----------------------------------------------------------------- close

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection: run the closing handshake, then release the stream.

        Waits up to ``close_timeout`` for the peer's close frame. Idempotent,
        and always releases the stream, even when cancelled. Messages not yet
        received are discarded.

        Raises:
            LocalProtocolError: ``code`` may not be sent (1005, 1006, 1015,
                unassigned codes) or ``reason`` is over 123 bytes in UTF-8.
        """
        try:
            await self._close_handshake(code, reason)
        finally:
            await self._abort()

    async def _close_handshake(self, code: int, reason: str) -> None:
        protocol = self._protocol
        sending = protocol.state is State.OPEN
        if sending:
            protocol.send_close(code, reason)  # validates code and reason
            self._discard_messages = True
            self._drain_queue()
        # Wait for the peer's close frame: the reader ends when it arrives.
        self._ensure_reader()
        with trio.move_on_after(seconds(self._options.close_timeout)):
            if sending:
                try:
                    await self._writer.flush()
                except TRANSPORT_ERRORS as exc:
                    self._close_cause = self._close_cause or exc
                    return
            await self._wait_reader_done()

    async def _wait_reader_done(self) -> None:
        if self._reader_finished:
            return
        if self._reader_done is None:
            self._reader_done = trio.Event()
        await self._reader_done.wait()

    def _drain_queue(self) -> None:
        while True:
            try:
                message = self._queue.get_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if message is None:
                self._reached_failure()
            elif isinstance(message, Incoming):
                message.decide(Mode.DISCARD)

    async def _abort(self) -> None:
        """Release the transport now and stop the helper tasks.

        Bookkeeping first, synchronously: the final ``await`` raises Cancelled
        when the caller's scope is cancelled (after closing the stream).
        """
        self._aborting = True
        if self._sweeper is not None:
            self._sweeper.remove(self)
            self._sweeper = None
        self._queue.close()  # wakes a reader blocked on a full queue
        if self._incoming is not None:  # or waiting for a receiving mode
            self._incoming.decide(Mode.DISCARD)
        if self._helpers_scope is not None:
            self._helpers_scope.cancel()
        if self._close_reason is None:
            reason = self._protocol.close_reason
            if reason is None:
                # We closed the transport before the closing handshake ended.
                reason = CloseReason(1006, "closing handshake did not complete")
            self._close_reason = reason
        self._pings.wake_all()
        await self._close_stream()

    async def _fail(
        self,
        code: int,
        reason: str,
        cause: BaseException | None,
        *,
        flush_timeout: float | None = None,
    ) -> None:
        """Send a close frame and drop the transport without waiting for the answer.

        Used for local failures (keepalive timeout) and forced shutdown; runs
        shielded from cancellation, bounded by ``flush_timeout`` (default:
        ``close_timeout``).
        """
        if self._close_cause is None:
            self._close_cause = cause
        if flush_timeout is None:
            flush_timeout = self._options.close_timeout
        with trio.CancelScope(shield=True):
            try:
                if self._protocol.state is State.OPEN:
                    self._protocol.send_close(code, reason)
                    with trio.move_on_after(seconds(flush_timeout)):
                        await self._writer.flush()
            except TRANSPORT_ERRORS:
                pass
            finally:
                if self._close_reason is None:
                    self._close_reason = CloseReason(code, reason)
                await self._abort()


def _check_control_payload(payload: bytes) -> None:
    # RFC 6455 5.5: a bad argument (ValueError), checked before the protocol
    # may refuse the command itself (LocalProtocolError, e.g. on draft-76).
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ValueError(
            f"control frame payload of {len(payload)} bytes "
            f"(limit {MAX_CONTROL_PAYLOAD})"
        )
