"""serve_websocket(max_connections=N): 503 + Retry-After beyond N, counts released."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws import ConnectionRejected, WebSocket, WebSocketServer, open_websocket_url
from trio_ws._core import _handshake as hs
from trio_ws.server._admission import (
    BUSY_ANSWER_TIMEOUT,
    BUSY_RETRY_AFTER,
    MAX_BUSY_ANSWERS,
)

from .conftest import (
    TEST_TIMEOUT,
    echo_handler,
    http_exchange,
    start_memory_server,
    start_server,
)


def upgrade_request() -> bytes:
    url = hs.WebSocketURL(scheme="ws", host="test", port=80, resource="/", secure=False)
    return hs.build_request(url, hs.generate_key())


async def wait_for_count(server: WebSocketServer, count: int) -> None:
    # (Polling: a count is released after the handler and the close, in the
    # server's task, with nothing to wait on from here.)
    while server.active_connections != count:  # noqa: ASYNC110
        await trio.sleep(0.01)


async def test_beyond_the_limit_clients_get_503_and_retry_after(
    nursery: trio.Nursery,
) -> None:
    release = trio.Event()
    handled = 0

    async def handler(ws: WebSocket) -> None:
        nonlocal handled
        handled += 1
        await release.wait()

    server = await start_server(nursery, handler, max_connections=2)
    assert server.max_connections == 2
    url = f"ws://127.0.0.1:{server.port}/"
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url), open_websocket_url(url):
            assert server.active_connections == 2
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(url):
                    pass
            assert info.value.status_code == 503
            assert ("retry-after", str(BUSY_RETRY_AFTER)) in [
                (name.lower(), value) for name, value in info.value.headers
            ]
            # Plain HTTP (a health check) counts and is turned away alike.
            status, headers, body = await http_exchange(
                server.port, b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"
            )
            assert (status, headers["retry-after"]) == (503, "5")
            assert b"too many connections" in body
            assert handled == 2  # no handler ran for the turned-away ones
            release.set()
        # The two connections ended: their slots are free again.
        await wait_for_count(server, 0)
        release = trio.Event()
        async with open_websocket_url(url), open_websocket_url(url):
            assert server.active_connections == 2
            release.set()
        await wait_for_count(server, 0)
    assert handled == 4


async def test_a_handshake_in_progress_holds_a_slot_until_open_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, listener = await start_memory_server(
        nursery, max_connections=1, open_timeout=10
    )
    stalled = await listener.connect()
    await stalled.send_all(b"GET / HTTP/1.1\r\n")  # and nothing more
    await trio.testing.wait_all_tasks_blocked()
    assert server.active_connections == 1

    turned_away = await listener.connect()
    await turned_away.send_all(upgrade_request())
    assert (await turned_away.receive_some()).startswith(
        b"HTTP/1.1 503 Service Unavailable\r\n"
    )

    await trio.sleep(10)  # open_timeout drops the stalled one
    assert await stalled.receive_some() == b""
    await trio.testing.wait_all_tasks_blocked()
    assert server.active_connections == 0
    admitted = await listener.connect()
    await admitted.send_all(upgrade_request())
    assert (await admitted.receive_some()).startswith(b"HTTP/1.1 101")


async def test_turned_away_connections_are_answered_a_bounded_number_at_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # A flood over the limit: MAX_BUSY_ANSWERS get a 503 (here they send no
    # request, so each waits BUSY_ANSWER_TIMEOUT before being closed); the
    # ones beyond are closed at once, unanswered.
    server, listener = await start_memory_server(nursery, max_connections=1)
    occupant = await listener.connect()
    await occupant.send_all(upgrade_request())
    assert (await occupant.receive_some()).startswith(b"HTTP/1.1 101")

    answered = [await listener.connect() for _ in range(MAX_BUSY_ANSWERS)]
    extra = await listener.connect()
    start = trio.current_time()
    assert await extra.receive_some() == b""
    assert trio.current_time() == start  # closed at once
    for stream in answered:
        assert await stream.receive_some() == b""
    assert trio.current_time() - start == pytest.approx(BUSY_ANSWER_TIMEOUT)
    await trio.testing.wait_all_tasks_blocked()
    assert server.active_connections == 1  # the occupant, still served

    # Once they are gone, a new turned-away client is answered again.
    late = await listener.connect()
    await late.send_all(upgrade_request())
    assert (await late.receive_some()).startswith(b"HTTP/1.1 503")


async def test_server_aclose_releases_every_count(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_connections=3)
    url = f"ws://127.0.0.1:{server.port}/"
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url):
            assert server.active_connections == 1
            await server.aclose()
            assert server.active_connections == 0


async def test_no_limit_by_default(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    assert server.max_connections is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
async def test_max_connections_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        WebSocketServer(echo_handler, [], max_connections=bad)  # type: ignore[arg-type]
