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

The connection asks this object, and only this object, who reads; its
:meth:`move` refuses any other transition (a bug, not a peer's doing).
"""

from __future__ import annotations

import enum

__all__ = ["Reading", "WhoReads"]


class Reading(enum.Enum):
    NOBODY = "nobody"
    INLINE = "inline"
    HANDOVER = "handover"
    TASK = "task"
    DONE = "done"


_NEXT: dict[Reading, frozenset[Reading]] = {
    Reading.NOBODY: frozenset({Reading.INLINE, Reading.TASK, Reading.DONE}),
    Reading.INLINE: frozenset({Reading.NOBODY, Reading.HANDOVER, Reading.DONE}),
    Reading.HANDOVER: frozenset({Reading.TASK, Reading.DONE}),
    Reading.TASK: frozenset({Reading.DONE}),
    Reading.DONE: frozenset({Reading.DONE}),
}


class WhoReads:
    """The reading state of one connection (see the module docstring)."""

    __slots__ = ("state",)

    def __init__(self, state: Reading = Reading.NOBODY) -> None:
        self.state = state

    def move(self, to: Reading) -> None:
        """Go to state ``to``; RuntimeError if the table does not allow it."""
        if to not in _NEXT[self.state]:
            raise RuntimeError(f"reading: no transition {self.state.name} -> {to.name}")
        self.state = to

    @property
    def by_task(self) -> bool:
        """The reader task reads (it may not have run yet)."""
        return self.state is Reading.TASK

    @property
    def done(self) -> bool:
        """Reading is over."""
        return self.state is Reading.DONE

    @property
    def inline_now(self) -> bool:
        """A receive() is reading inline at this moment."""
        return self.state is Reading.INLINE or self.state is Reading.HANDOVER

    @property
    def may_read_inline(self) -> bool:
        """No reader task has been started and reading is not over."""
        state = self.state
        return state is not Reading.TASK and state is not Reading.DONE
