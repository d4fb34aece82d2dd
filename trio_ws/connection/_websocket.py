"""The WebSocket connection: the public API of a connection, and the one
object that coordinates its parts.

Data flow::

    send() -> Protocol.send_* -> data_to_send() -> stream.send_all (Writer)
    receive() <- queue <- Reader (task or inline) <- Protocol.take_events() <- stream

:class:`WebSocket` owns a few helpers, each with a narrow job: the sans-I/O
protocol, the :class:`~._reader.Reader` (who reads, and reading), the
:class:`~._writer.Writer` (one write at a time, in wire order), the
:class:`~._ending.Ending` (why it ended, first cause wins), the message queue
and the pings, and a :class:`~._keepalive.KeepaliveRule`. The closing
handshake and failing the connection are its own methods, since they
coordinate all of those. Helper tasks (reader, keepalive, write helper) run
in a nursery the caller owns (the server's, or the client's). They never
raise: they record why the connection ended, and the user's next call raises
:class:`ConnectionClosed` chained to that cause. See docs/architecture.rst.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, cast

import trio

from .._core._events import CloseReason, MessageChunk
from .._core._frames import MAX_CONTROL_PAYLOAD
from .._core._interface import ProtocolLike
from .._core._protocol import Role, State
from .._exceptions import ConnectionClosed, LocalProtocolError
from .._options import ConnectionOptions, seconds
from .._scopes import hidden_nursery
from ._ending import Ending
from ._endpoint import Endpoint, endpoint_of
from ._keepalive import KeepaliveRule, KeepaliveTimeout, PendingPing, PingTracker
from ._queue import EMPTY, MessageQueue
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
from ._who_reads import INLINE_NOW, Reading
from ._writer import TRANSPORT_ERRORS, Writer

if TYPE_CHECKING:
    from .._core._handshake import Request

__all__ = ["Endpoint", "WebSocket"]

_INCOMPLETE = CloseReason(1006, "closing handshake did not complete")

logger = logging.getLogger("trio_ws")


# receive() hands over messages that are already queued without yielding to
# the scheduler (it still raises at once when cancelled), but yields at least
# once every this many messages, so one busy connection cannot starve others.
# Replies sent meanwhile are batched by the Writer (see _writer.py).
MAX_RECEIVES_WITHOUT_YIELD = 32

# What WebSocket._take_item() returns when receive() must yield first (the
# item is still in the queue).
_YIELD_FIRST = object()


class WebSocket(trio.abc.AsyncResource):
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
        "_ending",
        "_extensions",
        "_fragmenting",
        "_helpers_scope",
        "_keepalive",
        "_local",
        "_options",
        "_pings",
        "_protocol",
        "_queue",
        "_reader",
        "_receive_generation",
        "_receives_without_yield",
        "_remote",
        "_request",
        "_stream",
        "_subprotocol",
        "_url",
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
        url: str | None = None,
        leftover: bytes = b"",
        queue: MessageQueue[QueueItem] | None = None,
    ) -> None:
        # (``queue``: for this package only; trio_ws.compat passes a
        # rendezvous queue for trio-websocket's message_queue_size=0.)
        self._stream = stream
        self._protocol = protocol
        self._options = options
        self._subprotocol = subprotocol
        self._extensions = extensions
        self._request = request
        self._url = url
        self._ending = Ending(stream, protocol)
        self._writer = Writer(
            stream,
            protocol,
            self._write_failed,
            timeout=options.write_timeout,
            close_timeout=options.close_timeout,
            ending=self._ending,
        )
        # Messages for receive() (see QueueItem); None marks where the peer
        # broke the protocol. (Not MessageQueue[QueueItem](...): subscripting
        # at run time builds a generic alias on every connection.)
        if queue is None:
            queue = MessageQueue(options.message_queue_size)
        self._queue = queue
        # Pings waiting for their pong, by payload, oldest first.
        self._pings = PingTracker()
        self._reader = Reader(
            stream,
            protocol,
            options,
            queue=self._queue,
            pings=self._pings,
            writer=self._writer,
            ending=self._ending,
            leftover=leftover,
        )
        interval = options.ping_interval
        self._keepalive = (
            None if interval is None else KeepaliveRule(interval, options.ping_timeout)
        )
        # Counts receive calls, so a stale MessageStream can tell.
        self._receive_generation = 0
        self._receives_without_yield = 0
        # Set while send() sends a message in fragments; others wait for it.
        self._fragmenting: trio.Event | None = None
        self._helpers_scope: trio.CancelScope | None = None
        # Read once: the socket cannot tell them any more after it is closed.
        if request is not None:  # (the server read them for process_request)
            self._local, self._remote = request.local, request.remote
        else:
            self._local = endpoint_of(stream, local=True)
            self._remote = endpoint_of(stream, local=False)

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
        return self._ending.reason

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
    def url(self) -> str | None:
        """The URL a client connection opened, after any redirects (e.g.
        ``"wss://example.com/chat"``); None on a server."""
        return self._url

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
            self._ending.reason,
            queued=len(self._queue),
            capacity=self._options.message_queue_size,
        )

    # ------------------------------------------------------------- lifecycle

    # The package's interface to a connection (server and client): _start(),
    # _released and _force_close(); besides, the server's metrics read
    # _protocol and _ending (server/_metrics.py). Nothing else of the
    # connection is used from outside this package.

    def _start(self, nursery: trio.Nursery, sweeper: Sweeper | None = None) -> None:
        """Start the connection's helpers in ``nursery``.

        With a ``sweeper`` (plain server connections), nothing starts now:
        the handler reads inline and the sweeper does keepalive (see
        _sweeper.py). Otherwise the reader (and keepalive) tasks start.
        """
        # (The nursery also runs the batched-write helper.)
        if sweeper is None or isinstance(self._stream, trio.SSLStream):
            # (A cancelled read may break a TLS stream: no inline reading.)
            self._reader.attach(nursery, None, self)
            self._reader.start_task(spawn=False)
            nursery.start_soon(self._run_helpers)
            return
        self._reader.attach(nursery, sweeper, self)
        now = trio.current_time()
        interval = self._options.ping_interval
        sweeper.add(self, now, None if interval is None else now + interval)

    @property
    def _released(self) -> bool:
        """True once the close reason is known and the stream is closed."""
        return self._ending.released

    async def _run_helpers(self) -> None:
        # The reader needs no cancel scope: _abort() closes the stream and the
        # queue, which wakes it wherever it waits. Without keepalive there is
        # no nursery either (memory per idle connection counts).
        interval = self._options.ping_interval
        if interval is None:
            await self._reader.run()
            return
        async with hidden_nursery() as nursery:
            self._helpers_scope = nursery.cancel_scope
            nursery.start_soon(self._keepalive_task, interval)
            await self._reader.run()
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

    # --------------------------------------------------------------- closing

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
        reader = self._reader
        sending = protocol.state is State.OPEN
        if sending:
            protocol.send_close(code, reason)  # validates code and reason
            self._ending.closed_first = True
            reader.discard_all()
        elif reader.state is Reading.DONE:
            return  # the close frames crossed already (a server's usual end)
        # Wait for the peer's close frame: reading ends when it arrives.
        reader.ensure_task()
        with trio.move_on_after(seconds(self._options.close_timeout)):
            if sending:
                try:
                    await self._writer.flush()
                except TRANSPORT_ERRORS as exc:
                    self._ending.record_cause(exc)
                    return
            await reader.wait_done()

    async def _abort(self) -> None:
        """Release the transport now and stop the helper tasks.

        Bookkeeping first, synchronously: the final ``await`` raises Cancelled
        when the caller's scope is cancelled (after closing the stream).
        """
        ending = self._ending
        ending.aborting = True
        self._reader.leave_sweeper()
        self._reader.stop()
        if self._helpers_scope is not None:
            self._helpers_scope.cancel()
        # (Without the protocol's reason, we closed the transport before the
        # closing handshake ended.)
        ending.record_reason(default=_INCOMPLETE)
        await ending.close_stream()

    async def _force_close(
        self,
        code: int,
        reason: str,
        cause: BaseException | None,
        *,
        flush_timeout: float | None = None,
    ) -> None:
        """Send a close frame and drop the transport without waiting for the answer.

        For local failures (keepalive timeout, a message cut short) and forced
        shutdown; runs shielded from cancellation, the write bounded by
        ``flush_timeout`` (default: ``close_timeout``).
        """
        ending = self._ending
        ending.record_cause(cause)
        if flush_timeout is None:
            flush_timeout = self._options.close_timeout
        with trio.CancelScope(shield=True):
            try:
                if self._protocol.state is State.OPEN:
                    self._protocol.send_close(code, reason)
                    ending.closed_first = True
                    with trio.move_on_after(seconds(flush_timeout)):
                        await self._writer.flush()
            except TRANSPORT_ERRORS:
                pass
            finally:
                ending.record_reason(CloseReason(code, reason))
                await self._abort()

    async def _write_failed(self, exc: BaseException) -> None:
        """A deferred write failed: the transport is gone (the Writer's hook)."""
        if not self._ending.aborting:
            self._ending.record_cause(exc)
        await self._abort()

    # ------------------------------------------------------------- keepalive

    def _hand_over(self) -> None:
        """The sweeper: the handler stayed away from receive(); start a reader."""
        self._reader.ensure_task()

    def _keepalive_step(self, now: float) -> float | None:
        """Keepalive (the sweeper's, or the keepalive task's): ping, or check
        the pending ping. Returns when to be called next, or None when
        keepalive is over."""
        rule = self._keepalive
        if rule is None or self._reader.state is Reading.DONE or self._ending.aborting:
            return None
        if self._protocol.state is not State.OPEN:
            return None
        result = rule.step(now, self._send_keepalive_ping)
        if isinstance(result, KeepaliveTimeout):
            nursery = self._reader.nursery
            assert nursery is not None
            nursery.start_soon(self._keepalive_failed, result)
            return None
        return result

    def _send_keepalive_ping(self, now: float) -> PendingPing:
        payload = os.urandom(8)
        self._protocol.send_ping(payload)
        pending = self._pings.add(payload, now)
        reader = self._reader
        if reader.state not in INLINE_NOW:
            reader.ensure_task()  # someone must read the pong
        nursery = reader.nursery
        if not self._writer.write_later(nursery):
            assert nursery is not None
            nursery.start_soon(self._writer.flush_shielded)
        return pending

    async def _keepalive_failed(self, cause: BaseException) -> None:
        await self._force_close(1011, "keepalive ping timeout", cause)

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
                raise self._ending.closed_error()
            # (A tuple, not a union: isinstance() with a union is slower, on
            # the per-message path.)
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
                self._queue
                and writer.would_defer(_size_bound(message), self._reader.nursery)
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
        # While more received messages are already queued, the caller is
        # working through a burst: leave the frame for the write helper, so
        # its next replies share one write. The helper runs as soon as this
        # task yields (receive() yields at least every
        # MAX_RECEIVES_WITHOUT_YIELD messages, and whenever it waits).
        if self._queue and self._writer.write_later(self._reader.nursery):
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
            raise self._ending.closed_error() from (self._ending.cause or exc)

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
                await self._force_close(1011, "message could not be finished", exc)
            raise
        finally:
            self._fragmenting = None
            done.set()

    send_message = send  # trio-websocket name

    async def _send_or_close(self, *, holding_turn: bool = False) -> None:
        try:
            if holding_turn:
                await self._writer.write_queued()
            else:
                await self._writer.flush()
        except TRANSPORT_ERRORS as exc:
            self._ending.record_cause(exc)
            await self._abort()
            # The recorded cause (e.g. a keepalive timeout that closed the
            # stream under this write) says more than the write's own error.
            raise self._ending.closed_error() from self._ending.cause

    async def receive(self) -> str | bytes:
        """Wait for the next message: ``str`` for text, ``bytes`` for binary.

        The whole message is returned; it may be up to ``max_message_size``
        bytes (a bigger one closes the connection with 1009). Use
        :meth:`receive_stream` for bigger messages.

        Raises:
            ConnectionClosed: the connection closed (``.reason`` says how) and
                every message received before the close was already returned.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._receive_generation += 1
        item = self._take_item()
        if type(item) is str or type(item) is bytes:
            return item  # (the usual case under load: already queued)
        return await self._receive_slowly(item)

    async def _receive_slowly(self, item: object) -> str | bytes:
        """receive() after its first take: wait, yield, skip or decide."""
        while True:
            item = await self._settle(item)
            if type(item) is str or type(item) is bytes:
                return item
            if isinstance(item, Incoming):
                await self._reader.decide(item, Mode.WHOLE)
            # Else: a chunk of a streamed message left unread, skipped.
            await trio.lowlevel.checkpoint_if_cancelled()
            self._receive_generation += 1
            item = self._take_item()

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
                await self._reader.decide(item, Mode.STREAM)
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
        return await self._settle(self._take_item())

    def _take_item(self) -> object:
        """Take the next queue item without waiting: the item, EMPTY (none
        queued), or _YIELD_FIRST (nothing taken: this task must yield first).

        Queued items are handed over without yielding to the scheduler, which
        lets replies sent meanwhile share a write, but at most
        MAX_RECEIVES_WITHOUT_YIELD in a row. With :meth:`_settle`, the one
        place where receiving decides to wait or to yield.
        """
        count = self._receives_without_yield + 1
        if count >= MAX_RECEIVES_WITHOUT_YIELD:
            return _YIELD_FIRST
        item = self._queue.take()
        if item is not EMPTY:
            self._receives_without_yield = count
        return item

    async def _settle(self, item: object) -> QueueItem:
        """The queue item for what :meth:`_take_item` returned: waits while
        none is queued, yields first if due; raises ConnectionClosed at the
        end or where the peer broke the protocol."""
        if item is _YIELD_FIRST:
            self._receives_without_yield = 0
            await trio.lowlevel.cancel_shielded_checkpoint()
            item = self._queue.take()
        if item is EMPTY:
            self._receives_without_yield = 0
            try:
                item = await self._reader.wait_item()
            except trio.EndOfChannel:
                raise self._ending.closed_error() from self._ending.cause
        if item is not None:
            return item  # type: ignore[return-value]
        self._reader.reached_failure()  # the marker where the peer broke the protocol
        raise self._ending.closed_error()

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
        # (receive(), inlined: one coroutine less per message.)
        await trio.lowlevel.checkpoint_if_cancelled()
        self._receive_generation += 1
        item = self._take_item()
        if type(item) is str or type(item) is bytes:
            return item
        try:
            return await self._receive_slowly(item)
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
            raise self._ending.closed_error()
        _check_control_payload(payload)
        self._protocol.send_ping(payload)
        pending = self._pings.add(payload, trio.current_time())
        if self._reader.state not in INLINE_NOW:
            self._reader.ensure_task()  # someone must read the pong
        try:
            await self._send_or_close()
            await pending.event.wait()
        finally:
            self._pings.discard(payload)
        if pending.answered_at is None:
            raise self._ending.closed_error()
        return pending.answered_at - pending.sent_at

    async def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a unidirectional heartbeat, RFC 6455 5.5.3).

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: the payload is over 125 bytes.
            LocalProtocolError: the connection has no pongs (legacy draft-76).
        """
        if self._protocol.state is not State.OPEN:
            raise self._ending.closed_error()
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
