"""The protocol's states and its state machine, as a table (RFC 6455 7.1).

Shared by :class:`~._protocol.Protocol` and the draft-76 protocol; tests walk
the table.
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "Role", "State"]


class Role(enum.Enum):
    """Which end of the connection this protocol object is."""

    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    """Connection states (RFC 6455 7.1)."""

    OPEN = "open"  # messages flow both ways
    CLOSING = "closing"  # we sent a close frame and wait for the peer's
    CLOSED = "closed"  # close frames crossed, the peer failed, or EOF


class _Input(enum.Enum):
    """What can happen to the state machine."""

    SEND_CLOSE = "send_close"  # the user starts the closing handshake
    RECEIVE_CLOSE = "receive_close"  # a close frame arrives
    FAIL = "fail"  # the peer broke the protocol: we close with an error code
    EOF = "eof"  # the transport ended


# The state machine, as a table: TRANSITIONS[state][input] -> next state. An
# input missing from a state's row is illegal there (for user commands this
# raises LocalProtocolError; for peer input in CLOSED the data is ignored).
TRANSITIONS: dict[State, dict[_Input, State]] = {
    State.OPEN: {
        _Input.SEND_CLOSE: State.CLOSING,
        _Input.RECEIVE_CLOSE: State.CLOSED,  # and we echo the close frame
        _Input.FAIL: State.CLOSED,
        _Input.EOF: State.CLOSED,
    },
    State.CLOSING: {
        _Input.RECEIVE_CLOSE: State.CLOSED,
        _Input.FAIL: State.CLOSED,
        _Input.EOF: State.CLOSED,
    },
    State.CLOSED: {},
}

# Sending data, pings and pongs is allowed only while OPEN (RFC 6455 5.5.1:
# nothing after our close frame).
