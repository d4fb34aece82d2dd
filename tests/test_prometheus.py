"""trio_ws.prometheus: GET /metrics on the server's port, scraped and parsed
with prometheus_client's own parsers (text format and OpenMetrics)."""

from __future__ import annotations

import functools
import socket
from typing import Any

import pytest
import trio

from trio_ws import (
    Request,
    Response,
    WebSocketServer,
    open_websocket_unix,
    open_websocket_url,
    serve_websocket,
)
from trio_ws._core import _handshake as hs

from .conftest import TEST_TIMEOUT, echo_handler, http_exchange, start_server

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_openmetrics,
    )
    from prometheus_client.parser import text_string_to_metric_families

    from trio_ws.prometheus import ServerCollector, metrics_endpoint
except ImportError:  # (skipped when selected; no "skipped" line otherwise)
    HAVE_PROMETHEUS = False
else:
    HAVE_PROMETHEUS = True

pytestmark = pytest.mark.skipif(
    not HAVE_PROMETHEUS,
    reason="the prometheus extra is not installed: pip install -e '.[prometheus]' "
    "(nox -s tests installs it)",
)

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def samples(text: str, parse: Any = None) -> dict[Any, float]:
    """``{(sample name, frozenset of labels): value}`` of a scrape."""
    parse = parse or text_string_to_metric_families
    found: dict[Any, float] = {}
    for family in parse(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def scrape(
    server: WebSocketServer, path: str = "/metrics", accept: str = ""
) -> tuple[int, dict[str, str], bytes]:
    extra = f"Accept: {accept}\r\n" if accept else ""
    request = f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()
    return await http_exchange(server.port, request)


async def handler(ws: Any) -> None:
    async for message in ws:
        if message == "bye":
            await ws.aclose(4001)
            return
        await ws.send(message)


async def test_scrape_matches_server_statistics(nursery: trio.Nursery) -> None:
    async def my_hook(request: Request) -> Response | None:
        await trio.lowlevel.checkpoint()
        return Response(403) if request.path == "/secret" else None

    server = await start_server(
        nursery, handler, process_request=metrics_endpoint(process_request=my_hook)
    )
    url = f"ws://127.0.0.1:{server.port}"
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url + "/") as ws:
            await ws.send("x" * 1000)
            assert await ws.receive() == "x" * 1000
            await ws.send("bye")  # the server closes with 4001
            with pytest.raises(Exception, match="4001"):
                await ws.receive()
        open_ws = await nursery.start(_open_client, url)
        status, _, _ = await scrape(server, "/secret")  # the user's hook answers
        assert status == 403
        before = server.statistics()
        status, headers, body = await scrape(server)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(body.decode())

    assert found[key("trio_ws_connections_open")] == before.open_connections == 1
    assert found[key("trio_ws_connections_active")] == 2  # + the scrape itself
    assert found[key("trio_ws_handshakes_total", status="101")] == 2
    assert found[key("trio_ws_handshakes_total", status="403")] == 1
    assert key("trio_ws_handshakes_total", status="200") not in found  # (this one)
    assert found[key("trio_ws_handshakes_unanswered_total")] == 0
    assert found[key("trio_ws_closes_total", code="4001", initiator="local")] == 1
    assert found[key("trio_ws_keepalive_timeouts_total")] == 0
    for name, received, sent in (
        ("messages", before.messages_received, before.messages_sent),
        ("message_bytes", before.bytes_received, before.bytes_sent),
        ("wire_bytes", before.wire_bytes_received, before.wire_bytes_sent),
        (
            "deflate_message_bytes",
            before.deflate_bytes_received,
            before.deflate_bytes_sent,
        ),
    ):
        assert found[key(f"trio_ws_{name}_total", direction="received")] == received
        assert found[key(f"trio_ws_{name}_total", direction="sent")] == sent
    assert before.messages_received == 2 and before.bytes_received == 1003
    assert found[
        key("trio_ws_deflate_compression_ratio", direction="received")
    ] == pytest.approx(before.compression_ratio_received)
    latency = before.handshake_latency
    assert found[key("trio_ws_handshake_duration_seconds_count")] == 2
    assert found[key("trio_ws_handshake_duration_seconds_sum")] == pytest.approx(
        latency.sum
    )
    assert found[key("trio_ws_handshake_duration_seconds_bucket", le="+Inf")] == 2
    for bound, count in latency.cumulative[:-1]:
        assert (
            found[key("trio_ws_handshake_duration_seconds_bucket", le=repr(bound))]
            == count
        )

    # The next scrape counts the previous one (a plain 200 answer).
    _, _, body = await scrape(server)
    assert samples(body.decode())[key("trio_ws_handshakes_total", status="200")] == 1
    await open_ws.aclose()
    await server.aclose()


async def _open_client(url: str, task_status: Any) -> None:
    async with open_websocket_url(url + "/") as ws:
        task_status.started(ws)
        await trio.sleep_forever()


async def test_openmetrics_head_and_other_methods(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, process_request=metrics_endpoint())
    with trio.fail_after(TEST_TIMEOUT):
        status, headers, body = await scrape(server, accept=OPENMETRICS)
        assert status == 200
        assert headers["content-type"].startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")
        found = samples(body.decode(), parse_openmetrics)
        assert found[key("trio_ws_connections_active")] == 1
        assert found[key("trio_ws_handshakes_unanswered_total")] == 0

        status, _, body = await http_exchange(
            server.port, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert status == 200 and body == b""
        # Not GET/HEAD, or another path: not ours (no hook: 426).
        for request in (
            b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            b"GET /metricsx HTTP/1.1\r\nHost: t\r\n\r\n",
        ):
            status, _, _ = await http_exchange(server.port, request)
            assert status == 426
    await server.aclose()


def request_for(path: str) -> hs.Request:
    return hs.parse_request(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


def test_an_unbound_endpoint_answers_503_and_passes_the_rest_on() -> None:
    seen: list[str] = []

    def hook(request: Request) -> None:
        seen.append(request.path)

    endpoint = metrics_endpoint(process_request=hook, path="/m")
    answer = endpoint(request_for("/m"))
    assert isinstance(answer, Response) and answer.status_code == 503
    assert endpoint(request_for("/chat")) is None
    assert seen == ["/chat"]


class FakeServer:
    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def statistics(self) -> Any:
        return self.stats


async def test_collector_in_a_registry_of_ones_own(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    registry = CollectorRegistry()
    collector = ServerCollector(server)
    registry.register(collector)
    found = samples(generate_latest(registry).decode())
    assert found[key("trio_ws_handshakes_total", status="101")] == 0
    assert found[key("trio_ws_handshake_duration_seconds_count")] == 0
    # One collector per server, one server per registry's names.
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(ServerCollector())
    with pytest.raises(RuntimeError, match="another server"):
        collector.bind_server(FakeServer(None))
    with pytest.raises(ValueError, match="Duplicated"):
        metrics_endpoint(server, registry=registry)
    # Unbound: names, no samples.
    empty = CollectorRegistry()
    empty.register(ServerCollector())
    assert samples(generate_latest(empty).decode()) == {}
    await server.aclose()


def test_metric_names_follow_the_conventions() -> None:
    """Counters end in _total, units are base units in the name (seconds,
    bytes), every name is under the trio_ws_ namespace."""
    from trio_ws.prometheus._exposition import families

    names = {family.name: family.type for family in families(None)}
    assert all(name.startswith("trio_ws_") for name in names)
    assert names["trio_ws_handshake_duration_seconds"] == "histogram"
    assert names["trio_ws_connections_open"] == "gauge"
    counters = {name for name, kind in names.items() if kind == "counter"}
    assert "trio_ws_wire_bytes" in counters  # exposed as trio_ws_wire_bytes_total
    assert "trio_ws_closes" in counters


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix domain sockets")
async def test_scrape_over_a_unix_socket(nursery: trio.Nursery, tmp_path: Any) -> None:
    """The endpoint needs no TCP port: a server on a Unix socket answers too."""
    path = str(tmp_path / "ws.sock")
    server = await nursery.start(
        functools.partial(
            serve_websocket,
            echo_handler,
            unix_socket=path,
            process_request=metrics_endpoint(),
        )
    )
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_unix(path, "ws://localhost/") as ws:
            await ws.send("over unix")
            assert await ws.receive() == "over unix"
            stream = await trio.open_unix_socket(path)
            async with stream:
                await stream.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while chunk := await stream.receive_some():
                    data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    found = samples(body.decode())
    assert found[key("trio_ws_messages_total", direction="received")] == 1
    assert found[key("trio_ws_connections_open")] == 1
    await server.aclose()
