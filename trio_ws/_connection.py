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

import logging
import os
from typing import TYPE_CHECKING

import trio

from ._core._events import (
    BinaryMessage,
    CloseReason,
    Pong,
    ProtocolFailure,
    TextMessage,
)
from ._core._protocol import Protocol, Role, State
from ._endpoint import Endpoint, endpoint_of
from ._exceptions import ConnectionClosed, LocalProtocolError
from ._keepalive import PingTracker, keepalive
from ._options import ConnectionOptions, seconds
from ._queue import MessageQueue
from ._writer import TRANSPORT_ERRORS, Writer

if TYPE_CHECKING:
    from ._core._handshake import Request

__all__ = ["Endpoint", "WebSocket"]

logger = logging.getLogger("trio_ws")

Message = str | bytes

# receive() hands over messages that are already queued without yielding to
# the scheduler (it still raises at once when cancelled), but yields at least
# once every this many messages, so one busy connection cannot starve others.
# Replies sent meanwhile are batched by the Writer (see _writer.py).
MAX_RECEIVES_WITHOUT_YIELD = 32


class WebSocket:
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
        "_close_cause",
        "_close_reason",
        "_discard_messages",
        "_extensions",
        "_failure_reached",
        "_helpers_scope",
        "_leftover",
        "_local",
        "_nursery",
        "_options",
        "_pings",
        "_protocol",
        "_queue",
        "_reader_done",
        "_reader_finished",
        "_receives_without_yield",
        "_remote",
        "_request",
        "_stream",
        "_stream_closed",
        "_subprotocol",
        "_writer",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Protocol,
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
        # Messages for receive(); None marks where the peer broke the protocol.
        self._queue = MessageQueue[Message | None](options.message_queue_size)
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

    # ------------------------------------------------------------- lifecycle

    def _start(self, nursery: trio.Nursery) -> None:
        """Start the reader (and keepalive) tasks in ``nursery``."""
        self._nursery = nursery  # also runs the batched-write helper
        nursery.start_soon(self._run_helpers)

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

    async def _keepalive_failed(self, cause: BaseException) -> None:
        await self._fail(1011, "keepalive ping timeout", cause)

    async def _reader(self) -> None:
        protocol = self._protocol
        stream = self._stream
        receive_size = self._options.receive_size
        queue = self._queue
        cancelled = False
        try:
            data: bytes | bytearray = self._leftover
            self._leftover = b""
            while True:
                if data:
                    protocol.receive_data(data)
                    if protocol.has_data_to_send:
                        await self._writer.flush()
                    for event in protocol.events():
                        if isinstance(event, TextMessage | BinaryMessage):
                            if self._discard_messages:
                                continue
                            try:
                                queue.put_nowait(event.data)
                            except trio.WouldBlock:
                                await queue.put(event.data)
                        elif isinstance(event, Pong):
                            self._pings.resolve(event.payload, trio.current_time())
                        elif isinstance(event, ProtocolFailure):
                            self._close_cause = event.error
                            logger.debug("peer broke the protocol: %s", event.error)
                if protocol.pending_failure is not None:
                    await self._fail_in_order()
                    return
                if protocol.state is State.CLOSED:
                    await self._after_close_handshake()
                    return
                data = await stream.receive_some(receive_size)
                if not data:
                    protocol.receive_data(b"")
                    self._close_reason = CloseReason(
                        1006, "the peer closed the connection without a close frame"
                    )
                    return
        except TRANSPORT_ERRORS as exc:
            if self._aborting:
                cancelled = True  # _abort() closed the stream under us
            elif self._close_cause is None:
                self._close_cause = exc
        except trio.Cancelled:
            # Whoever cancelled us (aclose, _fail, a cancelled nursery) knows
            # better why the connection ends: leave the reason to _abort.
            cancelled = True
            raise
        finally:
            self._finish(record_reason=not cancelled)

    async def _fail_in_order(self) -> None:
        """Fail the connection once the user has handled the earlier messages.

        The peer broke the protocol after sending messages that are still in
        the queue. The failure marker goes behind them; the user's receive()
        reaching it fails the connection, so replies to those messages go out
        before our close frame. Bounded by ``close_timeout`` if the user does
        not receive.
        """
        protocol = self._protocol
        self._close_cause = protocol.pending_failure
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
        if self.is_client:
            with trio.move_on_after(seconds(self._options.close_timeout)):
                while await self._stream.receive_some(self._options.receive_size):
                    pass
        await self._close_stream()

    def _finish(self, *, record_reason: bool) -> None:
        """Record the close reason and wake everyone waiting on the connection."""
        if record_reason and self._close_reason is None:
            reason = self._protocol.close_reason
            self._close_reason = reason if reason is not None else CloseReason(1006)
        self._queue.close()
        self._pings.wake_all()
        self._reader_finished = True
        if self._reader_done is not None:
            self._reader_done.set()

    @property
    def _released(self) -> bool:
        """True once the close reason is known and the stream is closed."""
        return self._stream_closed and self._close_reason is not None

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            await trio.aclose_forcefully(self._stream)

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
        message: str | bytes | bytearray | memoryview,
        *,
        compress: bool | None = None,
    ) -> None:
        """Send one message: ``str`` as text, bytes-like as binary.

        Concurrent calls from several tasks are safe; their messages are sent
        whole, one after the other. Normally the message has been handed to
        the transport when send() returns. While more received messages wait
        in the queue, send() may return once the frame is buffered (at most
        64 KiB): it is written, together with the next replies, as soon as
        this task yields; a transport error then surfaces on the next call.

        Args:
            compress: with permessage-deflate negotiated, None (default)
                compresses messages at or over the size threshold; False sends
                this message uncompressed (for data that is already
                compressed: JPEG, gzip...); True compresses it whatever its
                size. Ignored when compression was not negotiated.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: ``message`` is neither text nor bytes-like.
        """
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            raise self._closed_error()
        try:
            if isinstance(message, str):
                protocol.send_text(message, compress=compress)
            elif isinstance(message, bytes | bytearray | memoryview):
                protocol.send_binary(message, compress=compress)
            else:
                raise TypeError(
                    f"message must be str or bytes-like, not {type(message).__name__}"
                )
        except LocalProtocolError as exc:  # closed while we were waiting
            raise self._closed_error() from exc
        if self._can_defer_write():
            await trio.lowlevel.checkpoint_if_cancelled()
            return
        await self._send_or_close()

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

        Raises:
            ConnectionClosed: the connection closed (``.reason`` says how) and
                every message received before the close was already returned.
        """
        queue = self._queue
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                message = queue.get_nowait()
            except trio.WouldBlock:
                self._receives_without_yield = 0
                message = await queue.get()
            else:
                # Already queued: no need to yield for each one (see the
                # constant), which lets replies sent meanwhile share a write.
                self._receives_without_yield += 1
                if self._receives_without_yield >= MAX_RECEIVES_WITHOUT_YIELD:
                    self._receives_without_yield = 0
                    await trio.lowlevel.cancel_shielded_checkpoint()
        except trio.EndOfChannel:
            message = None
        else:
            if message is not None:
                return message
            self._reached_failure()
        raise self._closed_error()  # outside the except: keep __cause__, no context

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
        """
        if payload is None:
            payload = os.urandom(8)
        if payload in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        if self._protocol.state is not State.OPEN:
            raise self._closed_error()
        try:
            self._protocol.send_ping(payload)
        except LocalProtocolError as exc:
            raise ValueError(str(exc)) from exc
        pending = self._pings.add(payload, trio.current_time())
        try:
            await self._send_or_close()
            await pending.event.wait()
        finally:
            self._pings.discard(payload)
        if pending.answered_at is None:
            raise self._closed_error()
        return pending.answered_at - pending.sent_at

    async def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a unidirectional heartbeat, RFC 6455 5.5.3)."""
        if self._protocol.state is not State.OPEN:
            raise self._closed_error()
        try:
            self._protocol.send_pong(payload)
        except LocalProtocolError as exc:
            raise ValueError(str(exc)) from exc
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

    async def _abort(self) -> None:
        """Release the transport now and stop the helper tasks.

        Bookkeeping first, synchronously: the final ``await`` raises Cancelled
        when the caller's scope is cancelled (after closing the stream).
        """
        self._aborting = True
        self._queue.close()  # wakes a reader blocked on a full queue
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
