"""Server-wide housekeeping: one task does for every connection what would
otherwise cost a task (and a nursery) per connection.

1. Reader hand-over. On a server, a connection's handler reads the socket
   itself while it waits in ``receive()`` (one task per connection on the hot
   path, see ``WebSocket._read_inline``). When a handler has been away from
   ``receive()`` for :data:`READER_HANDOFF_DELAY` (busy, sleeping, or a
   send-only handler), the sweeper starts the connection's reader task, so
   the peer's pings and close frame are still answered. That switch is one
   way: from then on the connection works as a client connection does.
2. Keepalive. A heap of deadlines: each connection's next ping, or the
   deadline of the ping waiting for its pong (``ping_interval``,
   ``ping_timeout``), handled in ``WebSocket._keepalive_step``.

The sweeper ticks every :data:`SWEEP_INTERVAL` while the server has
connections, and sleeps on an event while it has none.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Protocol

import trio

__all__ = ["READER_HANDOFF_DELAY", "SWEEP_INTERVAL", "Sweepable", "Sweeper"]

# Seconds a handler may stay away from receive() before its connection gets
# a reader task. Long enough that a handler replying to a message comes back
# first (microseconds to milliseconds), short enough that a busy handler's
# peer sees its pings answered well within any sane ping timeout.
READER_HANDOFF_DELAY = 0.05

# Seconds between two sweeps: the resolution of both jobs.
SWEEP_INTERVAL = 0.05


class Sweepable(Protocol):
    """What the sweeper needs from a connection (WebSocket implements it)."""

    def _hand_over(self) -> None:
        """Start the reader task (the handler stayed away from receive())."""

    def _keepalive_step(self, now: float) -> float | None:
        """Ping, or check the pending ping; return the next time, or None."""


class Sweeper:
    """The housekeeping task of one server (run it with :meth:`run`)."""

    __slots__ = ("_away", "_connections", "_counter", "_heap", "_wake")

    def __init__(self) -> None:
        # Connection -> when its handler left receive().
        self._away: dict[Sweepable, float] = {}
        # (when, tie-breaker, connection): keepalive deadlines.
        self._heap: list[tuple[float, int, Sweepable]] = []
        self._counter = itertools.count()
        self._connections = 0
        self._wake = trio.Event()

    # Called by connections -------------------------------------------------

    def add(self, connection: Sweepable, now: float, first_ping: float | None) -> None:
        """A new connection: its handler is away until it calls receive()."""
        self._connections += 1
        self._away[connection] = now
        if first_ping is not None:
            self.schedule(connection, first_ping)
        self._wake.set()

    def remove(self, connection: object) -> None:
        """The connection ended (its heap entries are dropped when due)."""
        self._connections -= 1
        self._away.pop(connection, None)  # type: ignore[call-overload]

    def back(self, connection: object) -> None:
        """The handler entered receive()."""
        self._away.pop(connection, None)  # type: ignore[call-overload]

    def away(self, connection: Sweepable, now: float) -> None:
        """The handler left receive() at ``now``."""
        self._away[connection] = now

    def forget(self, connection: object) -> None:
        """The connection has its reader task: no more hand-over checks."""
        self._away.pop(connection, None)  # type: ignore[call-overload]

    def schedule(self, connection: Sweepable, when: float) -> None:
        """Call ``connection._keepalive_step`` at ``when``."""
        heapq.heappush(self._heap, (when, next(self._counter), connection))

    # The task ------------------------------------------------------------------

    async def run(self) -> None:
        """Sweep until cancelled (with the server's nursery)."""
        while True:
            if self._connections <= 0:
                self._wake = trio.Event()
                await self._wake.wait()
            await trio.sleep(SWEEP_INTERVAL)
            self.sweep(trio.current_time())

    def sweep(self, now: float) -> None:
        """One round of both jobs."""
        away = self._away
        if away:
            late = [
                c for c, since in away.items() if now - since >= READER_HANDOFF_DELAY
            ]
            for connection in late:
                del away[connection]
                connection._hand_over()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, connection = heapq.heappop(heap)
            when = connection._keepalive_step(now)
            if when is not None:
                self.schedule(connection, when)
