"""The table of who reads a connection's transport (trio_ws/_who_reads.py)."""

from __future__ import annotations

import itertools

import pytest

from trio_ws.connection._who_reads import Reading, WhoReads

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
    who = WhoReads(start)
    if (start, to) in ALLOWED:
        who.move(to)
        assert who.state is to
    else:
        with pytest.raises(RuntimeError, match=f"{start.name} -> {to.name}"):
            who.move(to)
        assert who.state is start


def test_the_switch_to_the_reader_task_is_one_way() -> None:
    """Once a task reads, no path leads back to inline reading."""
    who = WhoReads()
    who.move(Reading.INLINE)
    assert who.inline_now and who.may_read_inline
    who.move(Reading.HANDOVER)
    who.move(Reading.TASK)
    assert who.by_task and not who.may_read_inline and not who.inline_now
    for state in (Reading.NOBODY, Reading.INLINE, Reading.HANDOVER):
        with pytest.raises(RuntimeError):
            who.move(state)
    who.move(Reading.DONE)
    assert who.done and not who.may_read_inline
