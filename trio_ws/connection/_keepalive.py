"""Pings waiting for their pong, and the keepalive timeout error.

The keepalive rule itself (when to ping, when a pong is late) is one method,
``_keepalive_step`` of the connection, run by the server's sweeper or by the
connection's own keepalive task."""

from __future__ import annotations

import attrs
import trio

from .._exceptions import ConnectionTimeout

__all__ = ["KeepaliveTimeout", "PendingPing", "PingTracker"]


class KeepaliveTimeout(ConnectionTimeout):
    """No pong arrived within ``ping_timeout``; the connection was closed with 1011."""

    @classmethod
    def after(cls, timeout: float) -> KeepaliveTimeout:
        return cls(f"no pong within {timeout} s of a keepalive ping")


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
