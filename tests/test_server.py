"""serve_websocket: handlers, process_request, HTTP errors, shutdown."""

from __future__ import annotations

import functools
import logging

import pytest
import trio
import trio.lowlevel

from trio_ws import (
    ConnectionClosed,
    ConnectionRejected,
    Request,
    Response,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)
from trio_ws._core._events import CloseReceived, TextMessage
from trio_ws._core._frames import Opcode, build_frame

from .conftest import TEST_TIMEOUT, echo_handler, http_exchange, open_raw, start_server


def url(server: WebSocketServer, resource: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{resource}"


async def test_echo_text_binary_and_large(echo_server: WebSocketServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url(echo_server)) as ws:
            await ws.send("héllo ☃")
            assert await ws.receive() == "héllo ☃"
            await ws.send(b"\x00\x01")
            assert await ws.receive() == b"\x00\x01"
            big = bytes(range(256)) * 4096  # 1 MiB
            await ws.send(memoryview(big))
            assert await ws.receive() == big
        assert ws.closed is not None
        assert ws.closed.code == 1000


async def test_request_details_reach_the_handler(nursery: trio.Nursery) -> None:
    seen: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws)
        await ws.send(ws.subprotocol or "none")

    server = await start_server(nursery, handler, subprotocols=["chat.v2", "chat.v1"])
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            url(server, "/chat?room=1"),
            subprotocols=["chat.v1", "chat.v2"],
            extra_headers=[("X-Token", "abc")],
        ) as ws:
            assert await ws.receive() == "chat.v2"  # server preference wins
            assert ws.subprotocol == "chat.v2"
    request = seen[0].request
    assert request is not None
    assert (request.path, request.query) == ("/chat", "room=1")
    assert request.get("x-token") == "abc"
    remote = seen[0].remote
    assert remote is not None and remote.address == "127.0.0.1"
    assert seen[0].is_client is False


async def test_no_common_subprotocol(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, subprotocols=["a"])
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url(server), subprotocols=["b"]) as ws:
            assert ws.subprotocol is None


async def test_handler_returning_closes_with_1000(nursery: trio.Nursery) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.send("bye")

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url(server)) as ws:
            assert [m async for m in ws] == ["bye"]  # ends quietly
            assert ws.closed is not None and ws.closed.code == 1000


async def test_handler_exception_closes_1011_and_server_survives(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(ws: WebSocket) -> None:
        message = await ws.receive()
        if message == "boom":
            raise RuntimeError("handler bug")
        await ws.send(message)
        await ws.receive()

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url(server)) as other:
            async with open_websocket_url(url(server)) as ws:
                await ws.send("boom")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.receive()
                assert info.value.reason.code == 1011
            # The other connection and the server are unaffected.
            await other.send("still here")
            assert await other.receive() == "still here"
        async with open_websocket_url(url(server)) as third:
            await third.send("new")
            assert await third.receive() == "new"
    assert any("handler bug" in r.getMessage() or r.exc_info for r in caplog.records)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize("in_nursery", [False, True], ids=["direct", "nursery"])
async def test_connection_closed_leaving_handler_is_silent(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture, in_nursery: bool
) -> None:
    # In a nursery, trio wraps the child's ConnectionClosed in an ExceptionGroup.
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        try:
            if in_nursery:
                async with trio.open_nursery() as inner:
                    inner.start_soon(ws.receive)
            else:
                await ws.receive()
        finally:
            done.set()

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url(server)):
            pass
        await done.wait()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("fault", ["raises", "bad response", "async raises"])
async def test_process_request_bug_gets_500_and_the_server_goes_on(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    def process_request(request: Request) -> Response | None:
        if request.path == "/bug":
            if fault == "bad response":
                return Response(200, (("X-Split", "a\r\nInjected: 1"),))
            raise RuntimeError("hook bug")
        return None

    async def async_process_request(request: Request) -> Response | None:
        await trio.lowlevel.checkpoint()
        return process_request(request)

    hook = async_process_request if fault == "async raises" else process_request
    server = await start_server(nursery, process_request=hook)
    with trio.fail_after(TEST_TIMEOUT):
        status, _, body = await http_exchange(
            server.port, b"GET /bug HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert status == 500
        assert b"Injected" not in body
        async with open_websocket_url(url(server)) as ws:  # still serving
            await ws.send("ok")
            assert await ws.receive() == "ok"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_process_request_rejects_with_status_and_body(
    nursery: trio.Nursery,
) -> None:
    def process_request(request: Request) -> Response | None:
        if request.get("Authorization") != "Bearer ok":
            return Response(401, (("WWW-Authenticate", "Bearer"),), "who are you?")
        return None

    server = await start_server(nursery, process_request=process_request)
    with trio.fail_after(TEST_TIMEOUT):
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(url(server)):
                pass  # pragma: no cover
        assert info.value.status_code == 401
        assert info.value.body == b"who are you?"
        assert ("WWW-Authenticate", "Bearer") in info.value.headers
        async with open_websocket_url(
            url(server), extra_headers=[("Authorization", "Bearer ok")]
        ) as ws:
            await ws.send("in")
            assert await ws.receive() == "in"


async def test_async_process_request_serves_plain_http(nursery: trio.Nursery) -> None:
    async def process_request(request: Request) -> Response | None:
        await trio.lowlevel.checkpoint()
        if request.path == "/health":
            return Response(200, (("Content-Type", "text/plain"),), b"ok")
        if request.path == "/missing":
            return Response(404, body="not here")
        return None

    server = await start_server(nursery, process_request=process_request)
    with trio.fail_after(TEST_TIMEOUT):
        status, headers, body = await http_exchange(
            server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert (status, body, headers["content-length"]) == (200, b"ok", "2")
        status, _, body = await http_exchange(
            server.port, b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert (status, body) == (404, b"not here")


async def test_non_upgrade_request_gets_426(echo_server: WebSocketServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        status, headers, body = await http_exchange(
            echo_server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
    assert status == 426
    assert headers["upgrade"] == "websocket"
    assert b"WebSocket" in body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 405),
        (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", 505),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: short\r\n\r\n",
            400,
        ),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
    ],
    ids=["405", "505", "400-key", "414", "431"],
)
async def test_bad_requests_get_http_errors(
    echo_server: WebSocketServer, request_bytes: bytes, status: int
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        got, _, _ = await http_exchange(echo_server.port, request_bytes)
    assert got == status


async def test_server_aclose_sends_1001_and_returns(nursery: trio.Nursery) -> None:
    handler_saw: list[int] = []

    async def handler(ws: WebSocket) -> None:
        try:
            await ws.receive()
        except ConnectionClosed as exc:
            handler_saw.append(exc.reason.code)
            raise

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with (
            open_websocket_url(url(server)) as ws1,
            open_websocket_url(url(server)) as ws2,
        ):
            await trio.testing.wait_all_tasks_blocked()
            await server.aclose()
            for ws in (ws1, ws2):
                with pytest.raises(ConnectionClosed) as info:
                    await ws.receive()
                assert info.value.reason.code == 1001
    assert handler_saw == [1001, 1001]
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", server.port)


async def test_cancelling_the_server_still_sends_1001() -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as outer:
            server_scope = trio.CancelScope()

            async def run_server(task_status: trio.TaskStatus[WebSocketServer]) -> None:
                with server_scope:
                    async with trio.open_nursery() as inner:
                        task_status.started(await start_server(inner))

            server = await outer.start(run_server)
            raw = await open_raw(server.port)
            head = await raw.client_handshake()
            assert head.startswith(b"HTTP/1.1 101")
            server_scope.cancel()
            event = await raw.next_event()
            assert isinstance(event, CloseReceived)
            assert event.reason.code == 1001


async def test_pipelined_frames_right_after_the_request(
    echo_server: WebSocketServer,
) -> None:
    # Frames sent in the same packet as the upgrade request must not be lost.
    key = b"\x01\x02\x03\x04"
    extra = build_frame(Opcode.TEXT, b"early", mask_key=key)
    with trio.fail_after(TEST_TIMEOUT):
        raw = await open_raw(echo_server.port)
        await raw.client_handshake(extra=extra)
        assert await raw.next_event() == TextMessage("early")
        await raw.stream.aclose()


async def test_peer_protocol_error_reaches_the_handler_as_cause(
    nursery: trio.Nursery,
) -> None:
    causes: list[BaseException | None] = []
    handled = trio.Event()

    async def handler(ws: WebSocket) -> None:
        try:
            await ws.receive()
        except ConnectionClosed as exc:
            causes.append(exc.__cause__)
            assert exc.reason.code == 1002
        handled.set()

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        raw = await open_raw(server.port)
        await raw.client_handshake()
        await raw.send_raw(
            build_frame(Opcode.TEXT, b"unmasked")
        )  # illegal from a client
        event = await raw.next_event()
        assert isinstance(event, CloseReceived) and event.reason.code == 1002
        assert await raw.stream.receive_some(10) == b""  # the server closed TCP
        await handled.wait()
    assert "unmasked" in str(causes[0])


async def test_prebuilt_listeners(nursery: trio.Nursery) -> None:
    # e.g. a socket opened with SO_REUSEPORT by the caller, shared by workers.
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server = await nursery.start(
        functools.partial(serve_websocket, echo_handler, None, listeners=listeners)
    )
    assert server.listeners == listeners
    port = listeners[0].socket.getsockname()[1]
    assert server.port == port
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("via a pre-built listener")
            assert await ws.receive() == "via a pre-built listener"
    await server.aclose()


async def test_serve_websocket_needs_a_port_or_listeners() -> None:
    with pytest.raises(TypeError, match="port, unix_socket or listeners"):
        await serve_websocket(echo_handler, None)


async def test_an_error_in_the_client_block_comes_out_unwrapped(
    echo_server: WebSocketServer,
) -> None:
    class AppError(Exception):
        pass

    with trio.fail_after(TEST_TIMEOUT):
        with pytest.raises(AppError):  # itself, not an ExceptionGroup
            async with open_websocket_url(url(echo_server)) as ws:
                await ws.send("x")
                raise AppError
    assert ws.closed is not None and ws.closed.code == 1000  # closed on the way out
