"""Keepalive: the rule (when to ping, when a pong is late), the pings
waiting for their pong, and the timeout error.

The rule (:class:`KeepaliveRule`) decides; the connection acts on it
(``WebSocket._keepalive_step``), called by the server's sweeper or by the
connection's own keepalive task: one rule, whoever keeps the time.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from .._exceptions import ConnectionTimeout

__all__ = ["KeepaliveRule", "KeepaliveTimeout", "PendingPing", "PingTracker"]


class KeepaliveTimeout(ConnectionTimeout):
    """No pong arrived within ``ping_timeout``; the connection was closed with 1011."""

    @classmethod
    def after(cls, timeout: float) -> KeepaliveTimeout:
        return cls(f"no pong within {timeout} s of a keepalive ping")


class KeepaliveRule:
    """A ping every ``interval`` seconds; its pong due within ``timeout``."""

    __slots__ = ("interval", "pending", "timeout")

    def __init__(self, interval: float, timeout: float | None) -> None:
        self.interval = interval
        self.timeout = timeout
        # The keepalive ping waiting for its pong.
        self.pending: PendingPing | None = None

    def step(
        self, now: float, send_ping: Callable[[float], PendingPing]
    ) -> float | KeepaliveTimeout:
        """Ping (with ``send_ping(now)``) or check the pending ping.

        Returns when to be called next, or the timeout error when the pong
        is late (the connection must be failed with 1011).
        """
        interval, timeout = self.interval, self.timeout
        ping = self.pending
        if ping is None:
            self.pending = send_ping(now)
            # Look again when the next ping is due or the pong is late.
            return now + (interval if timeout is None else min(interval, timeout))
        if ping.answered_at is not None:
            self.pending = None
            return max(now, ping.sent_at + interval)
        if timeout is not None and now - ping.sent_at >= timeout:
            return KeepaliveTimeout.after(timeout)
        return now + interval if timeout is None else ping.sent_at + timeout


@attrs.define
class PendingPing:
    """A ping waiting for its pong; ``event`` is set on the answer or the close."""

    sent_at: float
    answered_at: float | None = None
    event: trio.Event = attrs.Factory(trio.Event)


class PingTracker:
    """The pings of one connection that wait for their pong, oldest first."""

    __slots__ = ("_pending", "answered", "last_rtt", "sent")

    def __init__(self) -> None:
        # Created with the first ping: most connections never wait for one.
        self._pending: dict[bytes, PendingPing] | None = None
        #: Pings added, pings answered, and the last answered one's RTT.
        self.sent = 0
        self.answered = 0
        self.last_rtt: float | None = None

    def __contains__(self, payload: bytes) -> bool:
        return self._pending is not None and payload in self._pending

    def add(self, payload: bytes, now: float) -> PendingPing:
        """Record a ping sent at ``now`` (payloads of waiting pings are distinct)."""
        if self._pending is None:
            self._pending = {}
        self.sent += 1
        pending = self._pending[payload] = PendingPing(now)
        return pending

    def discard(self, payload: bytes) -> None:
        """Forget a ping (answered, or its waiter was cancelled)."""
        if self._pending is not None:
            self._pending.pop(payload, None)

    def resolve(self, payload: bytes, now: float) -> None:
        """A pong with ``payload`` arrived at ``now``.

        RFC 6455 5.5.3: a pong may answer only the most recent ping, so it
        also answers every ping sent before the matching one. A pong matching
        no waiting ping (unsolicited) changes nothing.
        """
        pending = self._pending
        if not pending or payload not in pending:
            return
        for key in list(pending):
            ping = pending.pop(key)
            ping.answered_at = now
            ping.event.set()
            self.answered += 1
            if key == payload:
                self.last_rtt = now - ping.sent_at
                break

    def wake_all(self) -> None:
        """The connection closed: wake every waiter (they see no answer)."""
        if self._pending:
            for ping in self._pending.values():
                ping.event.set()
