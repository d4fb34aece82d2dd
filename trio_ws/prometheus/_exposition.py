"""Prometheus exposition of ``server.statistics()``, on prometheus_client.

:class:`ServerCollector` turns one snapshot into metric families (a
prometheus_client custom collector: the numbers are computed once, in the
record, and only renamed here); :func:`metrics_endpoint` answers
``GET /metrics`` on the server's own port through ``process_request``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from .._core._handshake import Request
from ..server._metrics import ServerStatistics
from ..server._server import Response

__all__ = ["MetricsEndpoint", "ServerCollector", "StatisticsSource", "metrics_endpoint"]

#: The prefix of every metric name (Prometheus' "namespace").
NAMESPACE = "trio_ws"

#: The path :func:`metrics_endpoint` answers by default.
METRICS_PATH = "/metrics"

_NOT_READY = b"503 Service Unavailable: the metrics have no server yet.\n"

UserHook = Callable[[Request], "Response | Awaitable[Response | None] | None"]


class StatisticsSource(Protocol):
    """Anything with a ``statistics()`` returning :class:`ServerStatistics`
    (a :class:`~trio_ws.WebSocketServer`)."""

    def statistics(self) -> ServerStatistics: ...


class ServerCollector(Collector):
    """A prometheus_client collector of one server's statistics.

    Register it in your own registry (``registry.register(collector)``) to
    export the server's metrics with your other ones, e.g. through
    prometheus_client's own HTTP server. Each scrape takes one
    ``server.statistics()`` snapshot.

    Args:
        server: the server (anything with ``statistics()``), or None to
            bind it later with :meth:`bind_server` (until then a scrape
            shows the metrics' names without samples).
    """

    def __init__(self, server: StatisticsSource | None = None) -> None:
        self._server = server

    def bind_server(self, server: StatisticsSource) -> None:
        """Collect from ``server`` from now on.

        Raises:
            RuntimeError: bound to another server already (one collector
                per server: their metric names would clash).
        """
        if self._server is not None and self._server is not server:
            raise RuntimeError(
                "this collector already serves another server; make one per server"
            )
        self._server = server

    def describe(self) -> list[Metric]:
        """The metric families without samples (for registry.register()'s
        check of duplicate names)."""
        return list(families(None))

    def collect(self) -> Iterator[Metric]:
        """One snapshot, as metric families (prometheus_client calls this)."""
        server = self._server
        return families(None if server is None else server.statistics())


def families(stats: ServerStatistics | None) -> Iterator[Metric]:
    """The metric families of ``stats`` (none: names and help only).

    The table of names is in docs/howto/metrics.rst.
    """

    def counter(
        name: str, help: str, labels: Iterable[str] = ()
    ) -> CounterMetricFamily:
        return CounterMetricFamily(f"{NAMESPACE}_{name}", help, labels=list(labels))

    def gauge(name: str, help: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{NAMESPACE}_{name}", help, labels=list(labels))

    open_ = gauge("connections_open", "WebSocket connections open now.")
    active = gauge(
        "connections_active",
        "Connections being served now (handshakes, plain HTTP, WebSockets): "
        "what max_connections limits.",
    )
    handshakes = counter(
        "handshakes",
        "Opening requests answered, by HTTP status (101: upgraded to WebSocket).",
        ["status"],
    )
    unanswered = counter(
        "handshakes_unanswered",
        "Connections closed before any answer (client left, open_timeout, flood).",
    )
    closes = counter(
        "closes",
        "WebSocket connections ended, by close code and by who started the end "
        "(local, remote, none: the transport ended).",
        ["code", "initiator"],
    )
    keepalive = counter(
        "keepalive_timeouts", "Connections closed because a keepalive pong was late."
    )
    protocol_errors = counter(
        "protocol_errors",
        "Connections failed because the peer broke the protocol, by close code.",
        ["code"],
    )
    messages = counter("messages", "Whole messages, by direction.", ["direction"])
    message_bytes = counter(
        "message_bytes",
        "Message payload bytes (uncompressed), by direction.",
        ["direction"],
    )
    wire_bytes = counter(
        "wire_bytes",
        "Bytes on the transport after the opening handshake, by direction.",
        ["direction"],
    )
    deflate_message_bytes = counter(
        "deflate_message_bytes",
        "Message payload bytes (uncompressed) on permessage-deflate connections.",
        ["direction"],
    )
    deflate_wire_bytes = counter(
        "deflate_wire_bytes",
        "Bytes on the transport of permessage-deflate connections.",
        ["direction"],
    )
    ratio = gauge(
        "deflate_compression_ratio",
        "Payload bytes per wire byte on permessage-deflate connections, "
        "since the server started.",
        ["direction"],
    )
    latency = HistogramMetricFamily(
        f"{NAMESPACE}_handshake_duration_seconds",
        "Seconds from accepting a connection to sending its 101.",
        labels=[],
    )
    if stats is not None:
        open_.add_metric([], stats.open_connections)
        active.add_metric([], stats.active_connections)
        handshakes.add_metric(["101"], stats.handshakes_accepted)
        for status, count in sorted(stats.handshakes_rejected.items()):
            handshakes.add_metric([str(status)], count)
        unanswered.add_metric([], stats.handshakes_unanswered)
        for (code, initiator), count in sorted(stats.closes.items()):
            closes.add_metric([str(code), initiator], count)
        keepalive.add_metric([], stats.keepalive_timeouts)
        for code, count in sorted(stats.protocol_errors.items()):
            protocol_errors.add_metric([str(code)], count)
        for family, received, sent in (
            (messages, stats.messages_received, stats.messages_sent),
            (message_bytes, stats.bytes_received, stats.bytes_sent),
            (wire_bytes, stats.wire_bytes_received, stats.wire_bytes_sent),
            (
                deflate_message_bytes,
                stats.deflate_bytes_received,
                stats.deflate_bytes_sent,
            ),
            (
                deflate_wire_bytes,
                stats.deflate_wire_bytes_received,
                stats.deflate_wire_bytes_sent,
            ),
        ):
            family.add_metric(["received"], received)
            family.add_metric(["sent"], sent)
        for direction, value in (
            ("received", stats.compression_ratio_received),
            ("sent", stats.compression_ratio_sent),
        ):
            if value is not None:
                ratio.add_metric([direction], value)
        histogram = stats.handshake_latency
        latency.add_metric(
            [],
            [(_le(bound), count) for bound, count in histogram.cumulative],
            sum_value=histogram.sum,
        )
    yield from (open_, active, handshakes, unanswered, closes, keepalive)
    yield from (protocol_errors, messages, message_bytes, wire_bytes)
    yield from (deflate_message_bytes, deflate_wire_bytes, ratio, latency)


def _le(bound: float) -> str:
    """A bucket's upper bound as Prometheus writes it (``+Inf``, ``0.5``)."""
    return "+Inf" if math.isinf(bound) else repr(bound)


class MetricsEndpoint:
    """A ``process_request`` hook that answers ``GET <path>`` with the
    metrics and hands every other request to the user's hook (or to the
    WebSocket handshake). Made by :func:`metrics_endpoint`.

    Attributes:
        collector: the server's :class:`ServerCollector`.
        registry: the registry this endpoint exposes.
        path: the path it answers.
    """

    def __init__(
        self,
        server: StatisticsSource | None,
        process_request: UserHook | None,
        path: str,
        registry: CollectorRegistry | None,
    ) -> None:
        self.collector = ServerCollector(server)
        self.registry = CollectorRegistry() if registry is None else registry
        self.registry.register(self.collector)
        self.path = path
        self._process_request = process_request
        self._bound = server is not None

    def bind_server(self, server: StatisticsSource) -> None:
        """Expose ``server``'s metrics. A ``WebSocketServer`` calls this
        itself when the endpoint is its ``process_request``.

        Raises:
            RuntimeError: bound to another server already.
        """
        self.collector.bind_server(server)
        self._bound = True

    def __call__(
        self, request: Request
    ) -> Response | Awaitable[Response | None] | None:
        if request.path == self.path and request.method in ("GET", "HEAD"):
            return self.answer(request)
        if self._process_request is None:
            return None
        return self._process_request(request)

    def answer(self, request: Request) -> Response:
        """The metrics, in the format the scraper asked for (its Accept
        header: Prometheus' text format, or OpenMetrics)."""
        if not self._bound:
            return Response(503, (("Retry-After", "1"),), _NOT_READY)
        encoder, content_type = choose_encoder(request.get("Accept") or "")
        body = encoder(self.registry)
        headers = (("Content-Type", content_type), ("Cache-Control", "no-store"))
        return Response(200, headers, b"" if request.method == "HEAD" else body)


def metrics_endpoint(
    server: StatisticsSource | None = None,
    *,
    process_request: UserHook | None = None,
    path: str = METRICS_PATH,
    registry: CollectorRegistry | None = None,
) -> MetricsEndpoint:
    """A ``process_request`` hook serving Prometheus metrics on the server's port.

    ::

        server = await nursery.start(partial(
            serve_websocket, handler, 8000,
            process_request=metrics_endpoint(process_request=my_hook),
        ))
        # GET /metrics -> the server's metrics; anything else -> my_hook

    The server this hook is given to binds itself to it (so the hook can
    be built before the server exists); pass ``server`` to expose another
    one, e.g. a server on a private port.

    Args:
        server: the server whose statistics to expose; None: the server
            whose ``process_request`` this becomes.
        process_request: your own hook (sync or async), called for every
            request that is not ``GET``/``HEAD`` of ``path``.
        path: where the metrics are (default ``/metrics``).
        registry: the prometheus_client registry to expose, in which the
            server's collector is registered; by default a new one with
            the server's metrics only. Pass ``prometheus_client.REGISTRY``
            to expose the process's metrics and yours as well.

    Returns:
        The hook (a :class:`MetricsEndpoint`).

    Raises:
        ValueError: ``registry`` already has metrics of these names (another
            server's collector).
    """
    return MetricsEndpoint(server, process_request, path, registry)
