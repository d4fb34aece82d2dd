"""Small API gaps found by trying trio_ws as a new user (issue 18)."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import pytest
import trio

from tests.conftest import TEST_TIMEOUT, echo_handler, start_server
from trio_ws import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    Request,
    Response,
    WebSocket,
    connect_websocket,
    open_websocket,
    open_websocket_url,
    serve_websocket,
)


async def test_process_request_sees_both_endpoints() -> None:
    """An IP allow-list can answer 403 before the upgrade."""
    seen: list[Request] = []
    served: list[WebSocket] = []

    def allow_list(request: Request) -> Response | None:
        seen.append(request)
        assert request.remote is not None
        if request.path == "/deny-me":
            return Response(403, body="not from your address")
        return None

    async def handler(ws: WebSocket) -> None:
        served.append(ws)
        await echo_handler(ws)

    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, handler, process_request=allow_list)
            port = server.port
            url = f"ws://127.0.0.1:{port}"
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(url + "/deny-me"):
                    pass
            assert info.value.status_code == 403
            async with open_websocket_url(url + "/") as ws:
                await ws.send("x")
                assert await ws.receive() == "x"
                client_local = ws.local
            nursery.cancel_scope.cancel()
    assert len(seen) == 2
    request = seen[1]
    assert request.local is not None and request.remote is not None
    assert request.local.address == "127.0.0.1"
    assert request.local.port == port
    assert request.remote == client_local  # the client's own address
    # The connection reports the same ends as its request.
    assert served[0].local == request.local
    assert served[0].remote == request.remote


async def test_serve_websocket_with_no_listeners_is_an_error() -> None:
    with pytest.raises(ValueError, match="listeners"):
        await serve_websocket(echo_handler, None, listeners=[])


@pytest.mark.parametrize("bad", [1, "yes", None, ssl.PROTOCOL_TLS_CLIENT])
async def test_use_ssl_of_the_wrong_type_is_refused_before_connecting(
    bad: object,
) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(TypeError, match="use_ssl"):
            # (Port 9 on loopback: nothing is contacted, the check comes first.)
            await connect_websocket(nursery, "127.0.0.1", 9, "/", use_ssl=bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="use_ssl"):
            async with open_websocket("127.0.0.1", 9, "/", use_ssl=bad):  # type: ignore[arg-type]
                pass


async def test_closed_after_our_aclose_is_the_peers_echo() -> None:
    """We close with (4000, "ours"); ``closed`` is the peer's echo frame."""
    closed: list[CloseReason | None] = []

    async def handler(ws: WebSocket) -> None:
        await ws.aclose(4000, "ours")
        closed.append(ws.closed)

    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, handler)
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                with pytest.raises(ConnectionClosed) as info:
                    await ws.receive()
            nursery.cancel_scope.cancel()
    # The client saw our frame; we see its echo (trio_ws echoes the code only).
    assert info.value.reason == CloseReason(4000, "ours")
    assert closed == [CloseReason(4000, "")]


def answering_server(answer: bytes) -> Any:
    """A TCP handler that reads a request head, answers, and stays open."""

    async def handler(stream: trio.SocketStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive_some(65536)
        await stream.send_all(answer)
        await trio.sleep_forever()

    return handler


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, b""),
        (
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            403,
            b"hello world",
        ),
    ],
)
async def test_rejections_are_read_as_http_says_even_when_the_server_stays(
    answer: bytes, status: int, body: bytes
) -> None:
    """No body for 204/304, chunked decoded, without waiting for a close."""
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, host="127.0.0.1"),
                answering_server(answer),
                0,
            )
            port = listeners[0].socket.getsockname()[1]
            # (No open_timeout: a client waiting for a body that never comes
            # would hang until the test's own deadline.)
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(
                    f"ws://127.0.0.1:{port}/", open_timeout=None
                ):
                    pass
            nursery.cancel_scope.cancel()
    assert info.value.status_code == status
    assert info.value.body == body
