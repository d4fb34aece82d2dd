"""Who reads a connection's transport: one state, one transition table.

A connection's bytes are read either by the receiving task itself, inline in
``receive()`` (plain server connections: one task per connection on the hot
path), or by a reader task (clients, TLS, and any connection once something
out of the ordinary happens). The switch is one way. States::

    NOBODY    no read in progress; the next receive() reads inline
    INLINE    a receive() is reading inline
    HANDOVER  reading inline, and the reader task takes over when it returns
    TASK      the reader task reads, until the connection ends
    DONE      reading is over (end of stream, transport error, closed)

    NOBODY -> INLINE | TASK | DONE
    INLINE -> NOBODY | HANDOVER | DONE
    HANDOVER -> TASK | DONE
    TASK -> DONE

The state is one attribute of the connection's Reader, which alone reads
and writes it, always through :func:`move`: any other transition raises
(a bug, not a peer's doing).
"""

from __future__ import annotations

import enum

__all__ = ["INLINE_NOW", "MAY_READ_INLINE", "Reading", "move"]


class Reading(enum.IntEnum):
    """Who reads (an IntEnum: its members hash in C, and the table is
    consulted on every inline read)."""

    NOBODY = 0
    INLINE = 1
    HANDOVER = 2
    TASK = 3
    DONE = 4


_NEXT: dict[Reading, frozenset[Reading]] = {
    Reading.NOBODY: frozenset({Reading.INLINE, Reading.TASK, Reading.DONE}),
    Reading.INLINE: frozenset({Reading.NOBODY, Reading.HANDOVER, Reading.DONE}),
    Reading.HANDOVER: frozenset({Reading.TASK, Reading.DONE}),
    Reading.TASK: frozenset({Reading.DONE}),
    Reading.DONE: frozenset({Reading.DONE}),
}


MAY_READ_INLINE = frozenset({Reading.NOBODY, Reading.INLINE, Reading.HANDOVER})
"""States in which no reader task has been started and reading is not over."""

INLINE_NOW = frozenset({Reading.INLINE, Reading.HANDOVER})
"""States in which a receive() is reading inline at this moment."""


def move(state: Reading, to: Reading) -> Reading:
    """``to``, if the table allows ``state -> to``; else RuntimeError (a bug)."""
    if to not in _NEXT[state]:
        raise RuntimeError(f"reading: no transition {state.name} -> {to.name}")
    return to
