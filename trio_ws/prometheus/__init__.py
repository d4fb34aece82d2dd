"""Prometheus metrics of a trio_ws server (the ``prometheus`` extra).

``pip install 'trio-ws[prometheus]'`` (prometheus_client), then::

    from trio_ws.prometheus import metrics_endpoint

    await serve_websocket(handler, 8000, process_request=metrics_endpoint())
    # GET http://host:8000/metrics -> the server's metrics

:func:`metrics_endpoint` composes with your own ``process_request`` hook;
:class:`ServerCollector` registers the same metrics in a registry of yours.
The metric names are listed in docs/howto/metrics.rst.
"""

from ._exposition import (
    METRICS_PATH,
    NAMESPACE,
    MetricsEndpoint,
    ServerCollector,
    StatisticsSource,
    metrics_endpoint,
)

__all__ = [
    "METRICS_PATH",
    "NAMESPACE",
    "MetricsEndpoint",
    "ServerCollector",
    "StatisticsSource",
    "metrics_endpoint",
]
