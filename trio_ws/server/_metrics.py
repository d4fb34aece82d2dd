"""Server-wide metrics: the one home of the counters, and their snapshot.

:class:`ServerMetrics` is the mutable record a :class:`WebSocketServer`
keeps; ``server.statistics()`` returns a frozen :class:`ServerStatistics`.
Every server-wide number is computed here and nowhere else (the Prometheus
exposition in ``trio_ws.prometheus`` only renames them).

Cost: nothing per message. A connection already counts its own messages and
bytes (the protocol's counters behind ``ws.statistics()``); when it ends,
:meth:`ServerMetrics.connection_ended` folds them into the server's totals,
and a snapshot adds the counts of the connections still open. Per connection
the server pays a few attribute reads and dictionary updates at the end of
the handshake and at the end of the connection; a snapshot costs a few
attribute reads per open connection. A connection that ended leaves nothing
behind but its contribution to the totals (the keys of the small
dictionaries are HTTP statuses and close codes, a bounded set).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from .._core._interface import ProtocolLike
from ..connection._keepalive import KeepaliveTimeout

if TYPE_CHECKING:
    from ..connection._websocket import WebSocket

__all__ = [
    "HANDSHAKE_LATENCY_BUCKETS",
    "LatencyHistogram",
    "Initiator",
    "ServerMetrics",
    "ServerStatistics",
]

#: Upper bounds, in seconds, of the handshake latency histogram's buckets
#: (Prometheus' ``le``; one more bucket, +Inf, takes the rest). From half a
#: millisecond (a loopback handshake takes ~0.2-1 ms) to ``open_timeout``'s
#: default range (10 s); TLS and slow clients land in the upper half.
HANDSHAKE_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: Who started the end of a connection: ``"local"`` (our close frame went
#: first: the handler returned or raised, ``aclose()``, the server's
#: shutdown, a keepalive timeout, or we failed the connection because the
#: peer broke the protocol), ``"remote"`` (the peer's close frame came
#: first), ``"none"`` (no close frame either way: the transport ended).
Initiator = Literal["local", "remote", "none"]


@attrs.frozen(kw_only=True)
class LatencyHistogram:
    """A snapshot of a histogram with fixed buckets (Prometheus' shape).

    Attributes:
        bounds: the buckets' upper bounds, in seconds, ascending.
        counts: observations per bucket: ``counts[i]`` fell in
            ``(bounds[i-1], bounds[i]]``; one more entry, the last, counts
            those above ``bounds[-1]``.
        sum: the sum of all observations, in seconds.
        count: how many observations (the sum of ``counts``).
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float
    count: int

    @property
    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """``(upper bound, observations at or below it)`` per bucket, the
        last with ``float("inf")``: the form Prometheus exposes."""
        total = 0
        pairs = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            pairs.append((bound, total))
        return tuple(pairs)


@attrs.frozen(kw_only=True)
class ServerStatistics:
    """What a server has done so far; returned by ``server.statistics()``.

    A frozen snapshot: take a new one to see new numbers. Counters start at
    zero when the server is created and never go down; ``open_connections``
    and ``active_connections`` are gauges. Message and byte totals include
    the connections still open (their counts so far).

    Attributes:
        open_connections: WebSocket connections open now (upgraded and not
            yet ended).
        active_connections: connections being served now, whatever they
            are (handshakes in progress, plain HTTP answers, open
            WebSockets): what ``max_connections`` limits.
        handshakes_accepted: upgrades answered with ``101``.
        handshakes_rejected: requests answered with anything but a 101, by
            HTTP status: ``process_request``'s own answers (pages, health
            checks, 401/403...), 426 for a request that is no upgrade,
            400/405/414/431/505 for malformed ones, 500 when the hook
            raised, 503 from ``max_connections``.
        handshakes_unanswered: connections closed before any answer (the
            client left, ``open_timeout`` expired, or too many were being
            turned away at once).
        closes: connections ended, by ``(close code, initiator)``; the code
            is the one ``ws.closed`` reports (1006: no closing handshake).
            See :data:`Initiator` and the ``closes_by_*`` views.
        keepalive_timeouts: connections closed because a keepalive ping got
            no pong within ``ping_timeout`` (also counted in ``closes``).
        protocol_errors: connections failed because the peer broke the
            protocol, by the close code we sent (1002 protocol error, 1007
            invalid UTF-8, 1009 message too big...).
        messages_received: whole messages received.
        messages_sent: whole messages sent.
        bytes_received: message payload bytes received (after inflating).
        bytes_sent: message payload bytes sent (before compressing).
        wire_bytes_received: bytes read from the transports after the
            opening handshakes.
        wire_bytes_sent: bytes written to them after the opening handshakes.
        deflate_bytes_received: like ``bytes_received``, over the
            connections that negotiated permessage-deflate only.
        deflate_bytes_sent: like ``bytes_sent``, over those only.
        deflate_wire_bytes_received: like ``wire_bytes_received``, over
            those only.
        deflate_wire_bytes_sent: like ``wire_bytes_sent``, over those only.
        handshake_latency: seconds from accepting the connection to writing
            the 101 (TLS, reading the request, ``process_request``,
            negotiation), for accepted upgrades.
    """

    open_connections: int
    active_connections: int
    handshakes_accepted: int
    handshakes_rejected: Mapping[int, int]
    handshakes_unanswered: int
    closes: Mapping[tuple[int, Initiator], int]
    keepalive_timeouts: int
    protocol_errors: Mapping[int, int]
    messages_received: int
    messages_sent: int
    bytes_received: int
    bytes_sent: int
    wire_bytes_received: int
    wire_bytes_sent: int
    deflate_bytes_received: int
    deflate_bytes_sent: int
    deflate_wire_bytes_received: int
    deflate_wire_bytes_sent: int
    handshake_latency: LatencyHistogram

    @property
    def closes_by_code(self) -> dict[int, int]:
        """Connections ended, by close code (``closes`` summed over initiators)."""
        result: dict[int, int] = {}
        for (code, _), count in self.closes.items():
            result[code] = result.get(code, 0) + count
        return result

    @property
    def closes_by_initiator(self) -> dict[Initiator, int]:
        """Connections ended, by who started the end (``closes`` summed over codes)."""
        result: dict[Initiator, int] = {}
        for (_, initiator), count in self.closes.items():
            result[initiator] = result.get(initiator, 0) + count
        return result

    @property
    def compression_ratio_received(self) -> float | None:
        """Payload bytes per wire byte received on deflate connections (2.0:
        the data took half its size on the wire, frame headers included);
        None before any."""
        return _ratio(self.deflate_bytes_received, self.deflate_wire_bytes_received)

    @property
    def compression_ratio_sent(self) -> float | None:
        """Payload bytes per wire byte sent on deflate connections; None
        before any."""
        return _ratio(self.deflate_bytes_sent, self.deflate_wire_bytes_sent)


def _ratio(payload: int, wire: int) -> float | None:
    return payload / wire if wire else None


# The per-connection counters summed into the server's totals, in this order
# (the protocol's names, which are also ServerStatistics' field names); the
# deflate totals are the last four, over connections with permessage-deflate.
_TRAFFIC = (
    "messages_received",
    "messages_sent",
    "bytes_received",
    "bytes_sent",
    "wire_bytes_received",
    "wire_bytes_sent",
)


def _add(totals: list[int], protocol: ProtocolLike) -> None:
    """Add one connection's counters (in _TRAFFIC order) to ``totals``."""
    totals[0] += protocol.messages_received
    totals[1] += protocol.messages_sent
    totals[2] += protocol.bytes_received
    totals[3] += protocol.bytes_sent
    totals[4] += protocol.wire_bytes_received
    totals[5] += protocol.wire_bytes_sent


class ServerMetrics:
    """The server-wide counters of one server (mutable; see the module).

    The server calls :meth:`handshake_ended` once per served connection,
    :meth:`connection_ended` once per WebSocket when it has ended, and
    :meth:`snapshot` for ``server.statistics()``.
    """

    __slots__ = (
        "_closes",
        "_deflated",
        "_latency_counts",
        "_latency_sum",
        "_protocol_errors",
        "_rejected",
        "_traffic",
        "accepted",
        "keepalive_timeouts",
        "unanswered",
    )

    def __init__(self) -> None:
        self.accepted = 0
        self.unanswered = 0
        self.keepalive_timeouts = 0
        self._rejected: dict[int, int] = {}
        self._closes: dict[tuple[int, Initiator], int] = {}
        self._protocol_errors: dict[int, int] = {}
        # Totals of the connections that ended (the open ones are added at
        # snapshot time), in _TRAFFIC order: all connections, and those with
        # permessage-deflate.
        self._traffic = [0] * len(_TRAFFIC)
        self._deflated = [0] * len(_TRAFFIC)
        self._latency_counts = [0] * (len(HANDSHAKE_LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0

    def handshake_ended(self, outcome: object, seconds: float) -> None:
        """The opening handshake of a served connection is over.

        ``outcome``: the WebSocket (upgraded; ``seconds`` goes into the
        latency histogram), the HTTP status answered instead, or None (no
        answer).
        """
        if outcome is None:
            self.unanswered += 1
        elif type(outcome) is int:
            self._rejected[outcome] = self._rejected.get(outcome, 0) + 1
        else:
            self.accepted += 1
            self._latency_counts[bisect_left(HANDSHAKE_LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds

    def connection_ended(self, ws: WebSocket) -> None:
        """Fold an ended (released) connection into the totals."""
        protocol = ws._protocol
        ending = ws._ending
        _add(self._traffic, protocol)
        if ws.extensions is not None:
            _add(self._deflated, protocol)
        error = protocol.error
        if error is not None:
            code = error.close_code
            self._protocol_errors[code] = self._protocol_errors.get(code, 0) + 1
        if isinstance(ending.cause, KeepaliveTimeout):
            self.keepalive_timeouts += 1
        initiator: Initiator
        if ending.closed_first or error is not None:
            initiator = "local"
        elif protocol.close_received is not None:
            initiator = "remote"
        else:
            initiator = "none"
        reason = ending.reason
        key = (1006 if reason is None else reason.code, initiator)
        self._closes[key] = self._closes.get(key, 0) + 1

    def snapshot(
        self, open_connections: Iterable[WebSocket], active: int
    ) -> ServerStatistics:
        """The record: the totals plus what ``open_connections`` did so far."""
        traffic = list(self._traffic)
        deflated = list(self._deflated)
        count = 0
        for ws in open_connections:
            count += 1
            _add(traffic, ws._protocol)
            if ws.extensions is not None:
                _add(deflated, ws._protocol)
        return ServerStatistics(
            open_connections=count,
            active_connections=active,
            handshakes_accepted=self.accepted,
            handshakes_rejected=dict(self._rejected),
            handshakes_unanswered=self.unanswered,
            closes=dict(self._closes),
            keepalive_timeouts=self.keepalive_timeouts,
            protocol_errors=dict(self._protocol_errors),
            messages_received=traffic[0],
            messages_sent=traffic[1],
            bytes_received=traffic[2],
            bytes_sent=traffic[3],
            wire_bytes_received=traffic[4],
            wire_bytes_sent=traffic[5],
            deflate_bytes_received=deflated[2],
            deflate_bytes_sent=deflated[3],
            deflate_wire_bytes_received=deflated[4],
            deflate_wire_bytes_sent=deflated[5],
            handshake_latency=LatencyHistogram(
                bounds=HANDSHAKE_LATENCY_BUCKETS,
                counts=tuple(self._latency_counts),
                sum=self._latency_sum,
                count=self.accepted,
            ),
        )
