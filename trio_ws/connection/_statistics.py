"""``WebSocket.statistics()``: a snapshot of one connection, in Trio's style."""

from __future__ import annotations

from typing import Literal

import attrs

from .._core._events import CloseReason
from .._core._interface import ProtocolLike
from .._core._protocol import State
from ._keepalive import PingTracker

__all__ = ["WebSocketStatistics", "snapshot"]


@attrs.frozen(kw_only=True)
class WebSocketStatistics:
    """What a connection has done so far; returned by ``ws.statistics()``.

    Like trio's ``statistics()`` methods, a frozen snapshot: take a new one
    to see new numbers. Counters start at zero when the connection opens.

    Attributes:
        state: ``"open"``, ``"closing"`` (our close frame is out, the peer's
            has not arrived) or ``"closed"``.
        close_reason: why it closed, once it has (else None).
        messages_sent: whole messages sent (a fragmented one counts once).
        messages_received: whole messages received, streamed ones included.
        bytes_sent: message payload bytes sent, before compression.
        bytes_received: message payload bytes received, after inflating.
        wire_bytes_sent: bytes written to the transport (frames, headers,
            masks, compression) after the opening handshake.
        wire_bytes_received: bytes read from the transport after the opening
            handshake (including any not yet parsed).
        frames_sent: frames sent, control frames included.
        frames_received: frames received, control frames included.
        pings_sent: pings sent by ``ping()`` and the keepalive.
        pongs_received: those pings that got their pong (RFC 6455 5.5.3: a
            pong answers its ping and every earlier one).
        last_ping_rtt: round-trip time of the last answered ping, in
            seconds (None before the first answer).
        queued_messages: items waiting for ``receive()`` (messages, or chunks
            of a streamed message).
        queue_capacity: ``message_queue_size``, the bound on the above.
    """

    state: Literal["open", "closing", "closed"]
    close_reason: CloseReason | None
    messages_sent: int
    messages_received: int
    bytes_sent: int
    bytes_received: int
    wire_bytes_sent: int
    wire_bytes_received: int
    frames_sent: int
    frames_received: int
    pings_sent: int
    pongs_received: int
    last_ping_rtt: float | None
    queued_messages: int
    queue_capacity: int


def snapshot(
    protocol: ProtocolLike,
    pings: PingTracker,
    close_reason: CloseReason | None,
    *,
    queued: int,
    capacity: int,
) -> WebSocketStatistics:
    """The record for one connection: the core's counters, the Trio layer's
    pings and queue, and the close reason the connection settled on."""
    state: Literal["open", "closing", "closed"]
    if close_reason is not None or protocol.state is State.CLOSED:
        state = "closed"
    elif protocol.state is State.CLOSING:
        state = "closing"
    else:
        state = "open"
    return WebSocketStatistics(
        state=state,
        close_reason=close_reason or protocol.close_reason,
        messages_sent=protocol.messages_sent,
        messages_received=protocol.messages_received,
        bytes_sent=protocol.bytes_sent,
        bytes_received=protocol.bytes_received,
        wire_bytes_sent=protocol.wire_bytes_sent,
        wire_bytes_received=protocol.wire_bytes_received,
        frames_sent=protocol.frames_sent,
        frames_received=protocol.frames_received,
        pings_sent=pings.sent,
        pongs_received=pings.answered,
        last_ping_rtt=pings.last_rtt,
        queued_messages=queued,
        queue_capacity=capacity,
    )
