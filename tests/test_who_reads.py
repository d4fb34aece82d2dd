"""The table of who reads a connection's transport (connection/_who_reads.py)."""

from __future__ import annotations

import itertools

import pytest

from trio_ws.connection._who_reads import INLINE_NOW, MAY_READ_INLINE, Reading, move

ALLOWED = {
    (Reading.NOBODY, Reading.INLINE),
    (Reading.NOBODY, Reading.TASK),
    (Reading.NOBODY, Reading.DONE),
    (Reading.INLINE, Reading.NOBODY),
    (Reading.INLINE, Reading.HANDOVER),
    (Reading.INLINE, Reading.DONE),
    (Reading.HANDOVER, Reading.TASK),
    (Reading.HANDOVER, Reading.DONE),
    (Reading.TASK, Reading.DONE),
    (Reading.DONE, Reading.DONE),
}


@pytest.mark.parametrize(
    ("start", "to"), list(itertools.product(Reading, Reading)), ids=str
)
def test_only_the_tables_transitions_are_allowed(start: Reading, to: Reading) -> None:
    if (start, to) in ALLOWED:
        assert move(start, to) is to
    else:
        with pytest.raises(RuntimeError, match=f"{start.name} -> {to.name}"):
            move(start, to)


def test_the_switch_to_the_reader_task_is_one_way() -> None:
    """Once a task reads, no path leads back to inline reading."""
    state = move(move(Reading.NOBODY, Reading.INLINE), Reading.HANDOVER)
    assert state in INLINE_NOW and state in MAY_READ_INLINE
    state = move(state, Reading.TASK)
    assert state not in MAY_READ_INLINE and state not in INLINE_NOW
    for back in (Reading.NOBODY, Reading.INLINE, Reading.HANDOVER):
        with pytest.raises(RuntimeError):
            move(state, back)
    assert move(state, Reading.DONE) not in MAY_READ_INLINE
