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
# first (nearly always), short enough that a busy handler's
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
    """The housekeeping task of one server (run it with :meth:`run`).

    What it holds is bounded by the live connections: a connection that ends
    is dropped from both jobs at once (:meth:`remove`). The heap itself holds
    only ``(when, key)`` pairs; a removed connection's pair stays until it is
    due or the next compaction (when dead pairs outnumber live ones), and
    references nothing.
    """

    __slots__ = (
        "_away",
        "_connections",
        "_counter",
        "_dead",
        "_due",
        "_heap",
        "_key_of",
        "_wake",
    )

    def __init__(self) -> None:
        # Connection -> when its handler left receive().
        self._away: dict[Sweepable, float] = {}
        # Keepalive deadlines: a heap of (when, key), the key naming the
        # connection in _due; each connection has at most one live key.
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, Sweepable] = {}
        self._key_of: dict[Sweepable, int] = {}
        self._dead = 0
        self._counter = itertools.count()
        self._connections = 0
        self._wake = trio.Event()

    def held(self) -> int:
        """How many connections the sweeper references now (for tests)."""
        return len(self._away.keys() | self._key_of.keys())

    # Called by connections -------------------------------------------------

    def add(self, connection: Sweepable, now: float, first_ping: float | None) -> None:
        """A new connection: its handler is away until it calls receive()."""
        self._connections += 1
        self._away[connection] = now
        if first_ping is not None:
            self.schedule(connection, first_ping)
        if self._connections == 1:  # (else the sweeper is not waiting)
            self._wake.set()

    def remove(self, connection: object) -> None:
        """The connection ended: forget it in both jobs, now."""
        self._connections -= 1
        self._away.pop(connection, None)  # type: ignore[call-overload]
        key = self._key_of.pop(connection, None)  # type: ignore[call-overload]
        if key is not None:
            del self._due[key]
            self._dead += 1
            if self._dead > 64 and self._dead > len(self._due):
                self._compact()

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
        """Call ``connection._keepalive_step`` at ``when`` (replacing any
        earlier deadline of the connection)."""
        old = self._key_of.get(connection)
        if old is not None:
            del self._due[old]
            self._dead += 1
        key = next(self._counter)
        self._due[key] = connection
        self._key_of[connection] = key
        heapq.heappush(self._heap, (when, key))

    def _compact(self) -> None:
        due = self._due
        self._heap = [entry for entry in self._heap if entry[1] in due]
        heapq.heapify(self._heap)
        self._dead = 0

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
        due = self._due
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            found = due.get(key)
            if found is None:
                self._dead -= 1  # a removed connection's deadline
                continue
            connection = found
            del due[key], self._key_of[connection]
            when = connection._keepalive_step(now)
            if when is not None:
                self.schedule(connection, when)
