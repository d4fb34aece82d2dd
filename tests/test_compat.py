"""trio_ws.compat: trio-websocket 0.12's API on trio_ws (loopback only)."""

from __future__ import annotations

import functools
import ipaddress
import pickle
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

import trio_ws
import trio_ws.compat as tw
from trio_ws._core import _handshake as hs
from trio_ws._core._events import Pong
from trio_ws.compat._framewise import FramewiseStream, frame_size

from .conftest import TEST_TIMEOUT, echo_handler, http_exchange, open_raw
from .conftest import start_server as start_native_server

HOST = "127.0.0.1"

Handler = Callable[[tw.WebSocketRequest], Awaitable[None]]


async def start(nursery: trio.Nursery, handler: Handler, **kwargs: object) -> int:
    server = await nursery.start(
        functools.partial(tw.serve_websocket, handler, HOST, 0, None, **kwargs)
    )
    assert isinstance(server, tw.WebSocketServer)
    return server.port


async def echo(request: tw.WebSocketRequest) -> None:
    connection = await request.accept()
    try:
        while True:
            await connection.send_message(await connection.get_message())
    except tw.ConnectionClosed:
        pass


# --------------------------------------------------------------- handshake


async def test_accept_in_the_handler_with_subprotocol_and_headers(
    nursery: trio.Nursery,
) -> None:
    seen: dict[str, object] = {}

    async def handler(request: tw.WebSocketRequest) -> None:
        seen["path"] = request.path
        seen["headers"] = request.headers
        seen["offered"] = request.proposed_subprotocols
        seen["local"] = request.local
        connection = await request.accept(
            subprotocol="v2", extra_headers=[(b"Set-Cookie", b"id=7")]
        )
        seen["server_path"] = connection.path
        seen["is_server"] = connection.is_server
        await connection.send_message(connection.subprotocol or "none")

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(
            HOST,
            port,
            "/chat?room=1",
            use_ssl=False,
            subprotocols=["v1", "v2"],
            extra_headers=[(b"X-Token", b"abc"), (b"Host", b"ignored.example")],
        ) as connection:
            assert await connection.get_message() == "v2"
            assert connection.subprotocol == "v2"
            assert connection.handshake_headers == ((b"set-cookie", b"id=7"),)
            assert connection.path == "/chat?room=1"
            assert connection.is_client and not connection.is_server
            assert str(connection).startswith("client-")
    assert seen["path"] == seen["server_path"] == "/chat?room=1"
    assert seen["offered"] == ("v1", "v2")
    assert seen["is_server"] is True
    headers = dict(seen["headers"])  # type: ignore[call-overload]
    assert headers[b"x-token"] == b"abc"
    # The handshake's own Host wins over an extra one, and is not listed.
    assert b"host" not in headers
    assert isinstance(seen["local"], tw.Endpoint)
    assert seen["local"].port == port


async def test_accept_checks_its_arguments(nursery: trio.Nursery) -> None:
    errors: list[BaseException] = []

    async def handler(request: tw.WebSocketRequest) -> None:
        try:
            await request.accept(subprotocol="never-offered")
        except ValueError as exc:
            errors.append(exc)
        connection = await request.accept()
        try:
            await request.accept()
        except RuntimeError as exc:
            errors.append(exc)
        await connection.send_message("ok")

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(HOST, port, "/", use_ssl=False) as connection:
            assert await connection.get_message() == "ok"
    assert [type(e) for e in errors] == [ValueError, RuntimeError]


async def test_reject_status_headers_and_body_reach_the_client(
    nursery: trio.Nursery,
) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        await request.reject(403, extra_headers=[(b"X-Why", b"token")], body=b"go away")

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.ConnectionRejected) as info:
        async with tw.open_websocket(HOST, port, "/", use_ssl=False):
            pytest.fail("the connection was rejected")
    rejected = info.value
    assert isinstance(rejected, tw.HandshakeError)
    assert rejected.status_code == 403
    assert rejected.body == b"go away"
    headers = dict(rejected.headers)
    assert headers[b"x-why"] == b"token"
    assert headers[b"content-length"] == b"7"
    assert repr(rejected) == "ConnectionRejected<status_code=403>"


async def test_reject_without_body_gives_empty_bytes(nursery: trio.Nursery) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        await request.reject(404)

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.ConnectionRejected) as info:
        await tw.connect_websocket(nursery, HOST, port, "/", use_ssl=False)
    assert (info.value.status_code, info.value.body) == (404, b"")


async def test_handler_that_returns_without_answering_closes_the_stream(
    nursery: trio.Nursery,
) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        pass

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        stream = await trio.open_tcp_stream(HOST, port)
        url = hs.WebSocketURL("ws", HOST, port, "/", False)
        await stream.send_all(hs.build_request(url, hs.generate_key()))
        assert await stream.receive_some(1024) == b""


@pytest.mark.parametrize(
    ("request_head", "status", "version_header"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, None),  # not an upgrade at all
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, None),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
            b"Sec-WebSocket-Version: 8\r\n\r\n",
            426,
            "13",
        ),
    ],
)
async def test_invalid_requests_are_answered_without_calling_the_handler(
    nursery: trio.Nursery, request_head: bytes, status: int, version_header: str | None
) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        pytest.fail("the handler must not see an invalid request")

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        code, headers, _ = await http_exchange(port, request_head)
    assert code == status
    assert headers.get("sec-websocket-version") == version_header


@pytest.mark.parametrize(
    ("status_line", "status", "body"),
    [(b"100 Continue", 100, None), (b"204 No Content", 204, b"")],
)
async def test_answers_without_body_are_rejections_at_once(
    nursery: trio.Nursery, status_line: bytes, status: int, body: bytes | None
) -> None:
    # No Content-Length, and the server keeps the connection open: these
    # statuses never have a body, so none is waited for.
    async def answer(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 " + status_line + b"\r\n\r\n")
        await trio.sleep_forever()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, answer, 0))
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.ConnectionRejected) as info:
        async with tw.open_websocket(HOST, port, "/", use_ssl=False):
            pass
    assert (info.value.status_code, info.value.body) == (status, body)


async def test_server_hanging_up_during_the_handshake_is_a_connection_timeout(
    nursery: trio.Nursery,
) -> None:
    # trio-websocket's client keeps waiting for an answer that cannot come;
    # open_websocket's connect_timeout then ends the attempt.
    async def hang_up(stream: trio.SocketStream) -> None:
        await stream.receive_some(1024)
        await stream.aclose()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, hang_up, 0))
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.ConnectionTimeout) as info:
        async with tw.open_websocket(
            HOST, port, "/", use_ssl=False, connect_timeout=0.2
        ):
            pass
    assert isinstance(info.value.__cause__, tw.HandshakeError)


async def test_network_errors_become_handshake_errors() -> None:
    # A port nothing listens on (bound, never listening: nobody can take it).
    with trio.socket.socket() as sock:
        await sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.HandshakeError) as info:
            async with tw.open_websocket(HOST, port, "/", use_ssl=False):
                pass
    assert type(info.value) is tw.HandshakeError
    assert isinstance(info.value.__cause__, OSError)


async def test_url_and_ssl_argument_errors(nursery: trio.Nursery) -> None:
    with pytest.raises(ValueError, match="scheme"):
        tw.open_websocket_url("http://example.com/")
    with pytest.raises(ValueError, match="SSL context must be None"):
        await tw.connect_websocket_url(
            nursery, "ws://example.com/", ssl.create_default_context()
        )
    with pytest.raises(TypeError, match="use_ssl"):
        await tw.connect_websocket(nursery, HOST, 1, "/", use_ssl="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- messages


async def test_messages_both_ways_and_close_reasons(nursery: trio.Nursery) -> None:
    port = await start(nursery, echo)
    with trio.fail_after(TEST_TIMEOUT):
        url = f"ws://{HOST}:{port}/echo"
        async with tw.open_websocket_url(url) as connection:
            assert connection.path == "/echo"
            await connection.send_message("héllo")
            assert await connection.get_message() == "héllo"
            await connection.send_message(b"\x00\xff")
            assert await connection.get_message() == b"\x00\xff"
            with pytest.raises(ValueError):
                await connection.send_message(bytearray(b"x"))  # type: ignore[arg-type]
            await connection.ping(b"p")
            await connection.pong()
            assert connection.closed is None
            await connection.aclose(1001, "bye")
        closed = connection.closed
        assert isinstance(closed, tw.CloseReason)
        assert (closed.code, closed.name, closed.reason) == (1001, "GOING_AWAY", "bye")
        with pytest.raises(tw.ConnectionClosed) as info:
            await connection.get_message()
        # trio-websocket's exception types, not trio_ws's.
        assert not isinstance(info.value, trio_ws.ConnectionClosed)
        assert info.value.reason is closed
        with pytest.raises(tw.ConnectionClosed):
            await connection.send_message("late")
        with pytest.raises(tw.ConnectionClosed):
            await connection.ping()


async def test_peer_close_is_reported_with_the_peer_code(nursery: trio.Nursery) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        connection = await request.accept()
        await connection.send_message("last")
        await connection.aclose(4001)

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(HOST, port, "/", use_ssl=False) as connection:
            assert await connection.get_message() == "last"
            with pytest.raises(tw.ConnectionClosed) as info:
                await connection.get_message()
    reason = info.value.reason
    assert reason is not None
    assert (reason.code, reason.name, reason.reason) == (4001, "PRIVATE_RESERVED", None)
    assert repr(info.value) == (
        "ConnectionClosed<CloseReason<code=4001, name=PRIVATE_RESERVED, reason=None>>"
    )


async def test_closed_is_set_as_soon_as_closing_starts(nursery: trio.Nursery) -> None:
    # The server reads nothing (queue size 0, handler away): our close frame
    # waits behind a message, so the closing handshake cannot finish.
    release = trio.Event()

    async def handler(request: tw.WebSocketRequest) -> None:
        connection = await request.accept()
        await release.wait()
        await connection.get_message()

    port = await start(nursery, handler, message_queue_size=0)
    with trio.fail_after(TEST_TIMEOUT):
        connection = await tw.connect_websocket(nursery, HOST, port, "/", use_ssl=False)
        await connection.send_message("pending")
        async with trio.open_nursery() as closer:
            closer.start_soon(connection.aclose, 1000, "done")
            await trio.sleep(0.1)
            assert connection.closed is not None
            assert connection.closed.reason == "done"
            with pytest.raises(tw.ConnectionClosed):
                await connection.send_message("too late")
            release.set()


async def test_message_queue_size_zero_is_a_rendezvous(nursery: trio.Nursery) -> None:
    # With message_queue_size=0 the server reads no further than the message
    # its handler has not taken: a ping behind it gets no pong until then.
    # With message_queue_size=1 the same ping is answered at once.
    for size, answered_early in ((0, False), (1, True)):
        taken = trio.Event()
        may_take = trio.Event()

        async def handler(request: tw.WebSocketRequest) -> None:
            connection = await request.accept()
            await may_take.wait()  # noqa: B023 (each round's events)
            assert await connection.get_message() == "first"
            taken.set()  # noqa: B023
            with pytest.raises(tw.ConnectionClosed):
                await connection.get_message()

        port = await start(nursery, handler, message_queue_size=size)
        with trio.fail_after(TEST_TIMEOUT):
            async with tw.open_websocket(HOST, port, "/", use_ssl=False) as client:
                await client.send_message("first")
                with trio.move_on_after(0.3) as waited:
                    await client.ping(b"early")
                assert waited.cancelled_caught is not answered_early
                may_take.set()
                await taken.wait()
                await client.ping(b"after")


async def test_rendezvous_holds_a_ping_sent_with_the_message(
    nursery: trio.Nursery,
) -> None:
    # The message and the ping arrive in one write: still no pong before the
    # handler takes the message (the reader goes one frame at a time).
    may_take = trio.Event()

    async def handler(request: tw.WebSocketRequest) -> None:
        connection = await request.accept()
        await may_take.wait()
        assert await connection.get_message() == "first"
        await trio.sleep_forever()

    port = await start(nursery, handler, message_queue_size=0)
    with trio.fail_after(TEST_TIMEOUT):
        peer = await open_raw(port)
        await peer.client_handshake()
        peer.protocol.send_text("first")
        peer.protocol.send_ping(b"held")
        await peer.flush()
        with trio.move_on_after(0.3) as waited:
            await peer.next_event()
        assert waited.cancelled_caught
        may_take.set()
        assert await peer.next_event() == Pong(b"held")


def test_frame_size() -> None:
    assert frame_size(b"\x81") is None
    assert frame_size(b"\x81\x05") == 7
    assert frame_size(b"\x81\x85") == 11  # masked: 4 bytes of key
    assert frame_size(b"\x82\x7e\x01") is None
    assert frame_size(b"\x82\x7e\x01\x00") == 4 + 256
    assert frame_size(b"\x82\x7f" + (70000).to_bytes(8, "big")) == 10 + 70000


async def test_framewise_stream_stops_at_frame_ends() -> None:
    sender, receiver = trio.testing.memory_stream_one_way_pair()
    stream = FramewiseStream(
        trio.StapledStream(trio.testing.MemorySendStream(), receiver), b"\x81", 64
    )
    await sender.send_all(b"\x02hi\x89\x00\x81\x01")
    assert await stream.receive_some() == b"\x81\x02hi"  # the first frame only
    assert await stream.receive_some() == b"\x89\x00"  # then the ping
    assert await stream.receive_some(1) == b"\x81"  # max_bytes is honoured
    assert await stream.receive_some() == b"\x01"
    await sender.send_all(b"!")
    await sender.aclose()
    assert await stream.receive_some() == b"!"  # (a header cut short by EOF)
    assert await stream.receive_some() == b""


async def test_disconnection_timeout(nursery: trio.Nursery) -> None:
    release = trio.Event()

    async def handler(request: tw.WebSocketRequest) -> None:
        connection = await request.accept()
        await release.wait()
        await connection.get_message()

    port = await start(nursery, handler, message_queue_size=0)
    with trio.fail_after(TEST_TIMEOUT):
        with pytest.raises(tw.DisconnectionTimeout):
            async with tw.open_websocket(
                HOST, port, "/", use_ssl=False, disconnect_timeout=0.2
            ) as client:
                await client.send_message("unread")
        release.set()


async def test_connect_timeout_while_the_handler_delays(nursery: trio.Nursery) -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        await trio.sleep_forever()

    port = await start(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(tw.ConnectionTimeout):
        async with tw.open_websocket(
            HOST, port, "/", use_ssl=False, connect_timeout=0.2
        ):
            pass


async def test_errors_in_the_block_come_out_unwrapped(nursery: trio.Nursery) -> None:
    port = await start(nursery, echo)
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(KeyError):
        async with tw.open_websocket(HOST, port, "/", use_ssl=False):
            raise KeyError("mine")


async def test_handler_exception_ends_the_server() -> None:
    async def handler(request: tw.WebSocketRequest) -> None:
        await request.accept()
        raise ZeroDivisionError

    with trio.fail_after(TEST_TIMEOUT), pytest.raises(Exception) as info:
        async with trio.open_nursery() as nursery:
            port = await start(nursery, handler)
            async with tw.open_websocket(HOST, port, "/", use_ssl=False):
                await trio.sleep_forever()
    # Nested exception groups (one per nursery) around the handler's error.
    error: BaseException = info.value
    while not isinstance(error, ZeroDivisionError):
        inner = getattr(error, "exceptions", ())
        assert len(inner) == 1, repr(info.value)
        error = inner[0]


async def test_max_message_size_closes_with_1009(nursery: trio.Nursery) -> None:
    port = await start(nursery, echo)
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(
            HOST, port, "/", use_ssl=False, max_message_size=10
        ) as client:
            await client.send_message(b"x" * 11)
            with pytest.raises(tw.ConnectionClosed):
                await client.get_message()
            assert client.closed is not None
            assert (client.closed.code, client.closed.name) == (1009, "MESSAGE_TOO_BIG")


# ---------------------------------------------------- streams and interop


async def test_wrap_streams_over_memory(nursery: trio.Nursery) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def server_side() -> None:
        request = await tw.wrap_server_stream(nursery, server_stream)
        connection = await request.accept()
        assert connection.local.startswith("StapledStream(")  # type: ignore[union-attr]
        await connection.send_message(await connection.get_message())
        await connection.aclose()

    nursery.start_soon(server_side)
    with trio.fail_after(TEST_TIMEOUT):
        client = await tw.wrap_client_stream(nursery, client_stream, "example", "/x")
        await client.send_message("via memory")
        assert await client.get_message() == "via memory"
        with pytest.raises(tw.ConnectionClosed):
            await client.get_message()
        assert client.closed is not None and client.closed.code == 1000


async def test_compat_client_and_native_server(nursery: trio.Nursery) -> None:
    server = await start_native_server(nursery, echo_handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(HOST, server.port, "/", use_ssl=False) as client:
            await client.send_message("to native")
            assert await client.get_message() == "to native"


async def test_native_client_and_compat_server(nursery: trio.Nursery) -> None:
    port = await start(nursery, echo)
    with trio.fail_after(TEST_TIMEOUT):
        async with trio_ws.open_websocket_url(f"ws://{HOST}:{port}/") as ws:
            await ws.send("to compat")
            assert await ws.receive() == "to compat"
            # trio-websocket negotiates no compression; neither does compat.
            assert ws.extensions is None


# ------------------------------------------------------------------ values


def test_endpoint_url_and_repr() -> None:
    assert tw.Endpoint("127.0.0.1", 80, False).url == "ws://127.0.0.1"
    assert tw.Endpoint("127.0.0.1", 443, False).url == "ws://127.0.0.1:443"
    assert tw.Endpoint("10.0.0.1", 443, True).url == "wss://10.0.0.1"
    assert tw.Endpoint("::1", 8000, True).url == "wss://[::1]:8000"
    endpoint = tw.Endpoint("::1", 8000, False)
    assert endpoint.address == ipaddress.ip_address("::1")
    assert repr(endpoint) == 'Endpoint(address="::1", port=8000, is_ssl=False)'
    with pytest.raises(ValueError):
        tw.Endpoint("not an address", 80, False)


async def test_server_listeners_and_connection_endpoints(
    nursery: trio.Nursery,
) -> None:
    server = await nursery.start(
        functools.partial(tw.serve_websocket, echo, HOST, 0, None)
    )
    assert isinstance(server, tw.WebSocketServer)
    (listener,) = server.listeners
    assert isinstance(listener, tw.Endpoint)
    assert listener.url == f"ws://{HOST}:{server.port}"
    with trio.fail_after(TEST_TIMEOUT):
        async with tw.open_websocket(HOST, server.port, "/", use_ssl=False) as client:
            assert isinstance(client.remote, tw.Endpoint)
            assert client.remote.port == server.port
            assert isinstance(client.local, tw.Endpoint)
            assert str(client.local.address) == HOST
    with pytest.raises(ValueError):
        tw.WebSocketServer(echo, [])


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (1000, "NORMAL_CLOSURE"),
        (1007, "INVALID_FRAME_PAYLOAD_DATA"),
        (1010, "MANDATORY_EXT"),
        (1015, "TLS_HANDSHAKE_FAILED"),
        (1004, "RFC_RESERVED"),
        (1014, "RFC_RESERVED"),
        (3000, "IANA_RESERVED"),
        (4999, "PRIVATE_RESERVED"),
        (5000, "INVALID_CODE"),
    ],
)
def test_close_reason_names(code: int, name: str) -> None:
    reason = tw.CloseReason(code, None)
    assert (reason.code, reason.name, reason.reason) == (code, name, None)


def test_exceptions_copy_and_pickle() -> None:
    rejected = pickle.loads(
        pickle.dumps(tw.ConnectionRejected(401, ((b"a", b"b"),), None))
    )
    assert (rejected.status_code, rejected.headers, rejected.body) == (
        401,
        ((b"a", b"b"),),
        None,
    )
    for cls in (tw.ConnectionTimeout, tw.DisconnectionTimeout):
        assert isinstance(pickle.loads(pickle.dumps(cls())), tw.HandshakeError)
    closed = pickle.loads(pickle.dumps(tw.ConnectionClosed(None)))
    assert closed.reason is None
