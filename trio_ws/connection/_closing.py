"""Ending a connection: the closing handshake, failing it, and keepalive steps.

The third layer of :class:`~._connection.WebSocket` (see _state.py).
``aclose()`` runs the closing handshake (RFC 6455 7.1.2) bounded by
``close_timeout``; ``_fail()`` sends a close frame and drops the transport
without waiting (local failures, forced shutdown); ``_abort()`` releases
everything. The sweeper's callbacks (reader hand-over, keepalive by deadline)
live here too, since a missed pong ends the connection.
"""

from __future__ import annotations

import os

import trio

from .._core._events import CloseReason
from .._core._protocol import State
from .._options import seconds
from ._keepalive import KeepaliveTimeout
from ._reader import Reader
from ._streaming import Incoming, Mode
from ._writer import TRANSPORT_ERRORS

__all__ = ["Closing"]

_INCOMPLETE = CloseReason(1006, "closing handshake did not complete")


class Closing(Reader):
    """Closing, failing and keepalive steps (state in ConnectionState)."""

    __slots__ = ()

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
        elif self._reading.done:
            return  # the close frames crossed already (a server's usual end)
        # Wait for the peer's close frame: the reader ends when it arrives.
        self._ensure_reader()
        with trio.move_on_after(seconds(self._options.close_timeout)):
            if sending:
                try:
                    await self._writer.flush()
                except TRANSPORT_ERRORS as exc:
                    self._record_cause(exc)
                    return
            await self._wait_reader_done()

    async def _wait_reader_done(self) -> None:
        if self._reading.done:
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
        # (Without the protocol's reason, we closed the transport before the
        # closing handshake ended.)
        self._record_reason(self._protocol.close_reason or _INCOMPLETE)
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
        self._record_cause(cause)
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
                self._record_reason(CloseReason(code, reason))
                await self._abort()

    def _reached_failure(self) -> None:
        """The user got every message sent before the peer's fault: fail now."""
        self._protocol.fail_pending()
        if self._failure_reached is not None:
            self._failure_reached.set()

    async def _write_failed(self, exc: BaseException) -> None:
        """A deferred write failed: the transport is gone."""
        if not self._aborting:
            self._record_cause(exc)
        await self._abort()

    # Sweeper callbacks (see _sweeper.py).

    def _hand_over(self) -> None:
        self._ensure_reader()

    def _keepalive_step(self, now: float) -> float | None:
        """Keepalive by the sweeper: ping, or check the pending ping.

        Returns when to be called next, or None when keepalive is over.
        """
        options = self._options
        interval = options.ping_interval
        if interval is None or self._reading.done or self._aborting:
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
                cause = KeepaliveTimeout.after(timeout)
                assert self._nursery is not None
                self._nursery.start_soon(self._keepalive_failed, cause)
                return None
            return now + interval if timeout is None else ping.sent_at + timeout
        payload = os.urandom(8)
        self._protocol.send_ping(payload)
        self._keepalive_ping = self._pings.add(payload, now)
        if not self._reading.inline_now:
            self._ensure_reader()  # someone must read the pong
        if not self._writer.write_later(self._nursery):
            assert self._nursery is not None
            self._nursery.start_soon(self._write_soon)
        timeout = options.ping_timeout
        # Look again when the next ping is due or the pong is late.
        return now + (interval if timeout is None else min(interval, timeout))

    async def _keepalive_failed(self, cause: BaseException) -> None:
        await self._fail(1011, "keepalive ping timeout", cause)
