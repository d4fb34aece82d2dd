"""serve_websocket(draft76=True): legacy draft-76 clients, bytes written by hand.

Most tests accept connections from an in-memory listener (autojump clock,
no sockets); one runs over loopback TCP next to an RFC 6455 client.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
import trustme

from trio_ws import (
    CloseReason,
    ConnectionClosed,
    LocalProtocolError,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
)
from trio_ws._core import _handshake as hs
from trio_ws._core._hixie76 import challenge_response, key_number

from .conftest import (
    TEST_TIMEOUT,
    MemoryListener,
    echo_handler,
    http_exchange,
    start_memory_server,
    start_server,
)
from .core.test_hixie76_handshake import (
    ANSWER,
    EXAMPLE_HEAD,
    EXAMPLE_RESPONSE,
    KEY1,
    KEY2,
    KEY3,
)

CLOSE = b"\xff\x00"


def text(message: str) -> bytes:
    return b"\x00" + message.encode() + b"\xff"


async def memory_server(
    nursery: trio.Nursery,
    handler: Callable[[WebSocket], Awaitable[None]] = echo_handler,
    *,
    legacy: bool = True,
    **kwargs: Any,
) -> MemoryListener:
    """serve_websocket on a MemoryListener; legacy=False leaves draft76 unset."""
    if legacy:
        kwargs["draft76"] = True
    _, listener = await start_memory_server(nursery, handler, **kwargs)
    return listener


async def receive_exactly(stream: trio.abc.Stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes: {data!r}"
        data += chunk
    return data


async def receive_until_eof(stream: trio.abc.Stream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def receive_response(stream: trio.abc.Stream) -> tuple[bytes, bytes]:
    """Read a draft-76 answer: the head (CRLF CRLF included) and 16 bytes."""
    reader = hs.HeadReader()
    while not reader.feed(await stream.receive_some(1)):
        pass
    answer = await receive_exactly(stream, 16)
    return reader.head + b"\r\n\r\n", answer


# --- The whole exchange ----------------------------------------------------------


async def test_draft76_handshake_echo_and_client_close(nursery: trio.Nursery) -> None:
    closed: list[Any] = []
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        async for message in ws:  # ends quietly: the close is clean
            await ws.send(message)
        closed.append(ws.closed)
        assert ws.request is not None  # how a handler tells draft-76 (README)
        closed.append(ws.request.get("Sec-WebSocket-Key1"))
        closed.append(ws.subprotocol)
        done.set()

    listener = await memory_server(nursery, handler, subprotocols=["sample"])
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3)
        head, answer = await receive_response(client)
        # The draft's section 1.3 answer, byte for byte.
        assert head + answer == EXAMPLE_RESPONSE
        await client.send_all(text("héllo ☃"))
        assert await receive_exactly(client, len(text("héllo ☃"))) == text("héllo ☃")
        await client.send_all(CLOSE)
        assert await receive_exactly(client, 2) == CLOSE
        assert await receive_until_eof(client) == b""  # the server closes TCP
        await done.wait()
    assert closed == [CloseReason(1000), KEY1, "sample"]


@pytest.mark.parametrize("split", ["one_write", "head_then_bytewise"])
async def test_key3_and_frames_in_any_pieces(nursery: trio.Nursery, split: str) -> None:
    listener = await memory_server(nursery)
    data = EXAMPLE_HEAD + KEY3 + text("early")  # a frame right behind key3
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        if split == "one_write":
            await client.send_all(data)
        else:
            await client.send_all(EXAMPLE_HEAD)
            for i in range(len(EXAMPLE_HEAD), len(data)):
                await trio.testing.wait_all_tasks_blocked()
                await client.send_all(data[i : i + 1])
        _, answer = await receive_response(client)
        assert answer == ANSWER
        assert await receive_exactly(client, len(text("early"))) == text("early")


async def test_handler_return_closes_with_0xff_0x00(nursery: trio.Nursery) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.send("bye")

    listener = await memory_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3)
        await receive_response(client)
        assert (
            await receive_exactly(client, len(text("bye")) + 2) == text("bye") + CLOSE
        )
        await client.send_all(CLOSE)  # complete the closing handshake
        assert await receive_until_eof(client) == b""


async def test_text_only_no_pings_no_keepalive(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    errors: list[str] = []

    async def handler(ws: WebSocket) -> None:
        for call in (
            ws.send(b"bytes"),
            ws.send(["in ", "parts"]),
            ws.ping(),
            ws.pong(),
        ):
            try:
                await call
            except LocalProtocolError as exc:
                errors.append(str(exc))
        await ws.send("still open")
        await ws.receive()

    # A keepalive ping every second, if draft-76 had pings.
    listener = await memory_server(nursery, handler, ping_interval=1, ping_timeout=1)
    client = await listener.connect()
    await client.send_all(EXAMPLE_HEAD + KEY3)
    await receive_response(client)
    assert await receive_exactly(client, len(text("still open"))) == text("still open")
    with trio.move_on_after(60):  # a minute of (autojumped) silence
        assert await client.receive_some(65536) == b"never"
    assert len(errors) == 4
    assert "binary" in errors[0]
    assert "fragments" in errors[1]
    assert "no pings" in errors[2]
    assert "no pongs" in errors[3]


async def test_receive_stream_and_statistics(nursery: trio.Nursery) -> None:
    async def handler(ws: WebSocket) -> None:
        stream = await ws.receive_stream()
        chunks = [chunk async for chunk in stream]
        stats = ws.statistics()
        await ws.send(repr((chunks, stats.messages_received, stats.bytes_received)))
        await ws.receive()

    listener = await memory_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3 + text("whole ☃"))
        await receive_response(client)
        expected = text(repr((["whole ☃"], 1, len("whole ☃".encode()))))
        assert await receive_exactly(client, len(expected)) == expected


async def test_oversized_message_drops_the_connection(nursery: trio.Nursery) -> None:
    seen: list[ConnectionClosed] = []
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        try:
            await ws.receive()
        except ConnectionClosed as exc:
            seen.append(exc)
        done.set()

    listener = await memory_server(nursery, handler, max_message_size=16)
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3)
        await receive_response(client)
        await client.send_all(b"\x00" + b"x" * 17)  # no 0xFF: the limit alone
        # draft-76 fails a connection by closing TCP: no closing frame.
        assert await receive_until_eof(client) == b""
        await done.wait()
    assert seen[0].reason.code == 1009


async def test_location_says_wss_over_tls(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("example.com").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    listener = await memory_server(nursery, ssl_context=server_context)
    with trio.fail_after(TEST_TIMEOUT):
        client = trio.SSLStream(
            await listener.connect(), client_context, server_hostname="example.com"
        )
        await client.send_all(EXAMPLE_HEAD + KEY3)
        head, answer = await receive_response(client)
    assert answer == ANSWER
    assert b"Sec-WebSocket-Location: wss://example.com/demo\r\n" in head


# --- Refusals ------------------------------------------------------------------------


async def test_draft76_is_off_by_default(nursery: trio.Nursery) -> None:
    called: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        called.append(ws)

    listener = await memory_server(nursery, handler, legacy=False)  # the default
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3)
        data = await receive_until_eof(client)
    head, _, body = data.partition(b"\r\n\r\n")
    response = hs.parse_response(head)
    assert response.status_code == 400
    assert response.get("Sec-WebSocket-Version") == "13"
    assert b"draft-76 is disabled" in body
    assert called == []


@pytest.mark.parametrize(
    ("key1", "message"),
    [
        ("1 2 3", b"not a multiple"),
        ("123456", b"no spaces"),
        ("99999999999 1", b"32 bits"),
        ("x y z", b"no digits"),
    ],
)
async def test_malformed_keys_get_400_without_waiting_for_key3(
    nursery: trio.Nursery, key1: str, message: bytes
) -> None:
    listener = await memory_server(nursery)
    head = EXAMPLE_HEAD.replace(KEY1.encode(), key1.encode())
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(head)  # and no key3
        data = await receive_until_eof(client)
    assert data.startswith(b"HTTP/1.1 400 ")
    assert message in data


async def test_client_closing_before_key3_gets_400(nursery: trio.Nursery) -> None:
    listener = await memory_server(nursery)
    with trio.fail_after(TEST_TIMEOUT):
        client = await listener.connect()
        await client.send_all(EXAMPLE_HEAD + KEY3[:5])
        await client.send_stream.aclose()  # type: ignore[attr-defined]
        data = await receive_until_eof(client)
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"5 of the 8 bytes" in data


@pytest.mark.parametrize("sent", [0, 5])
async def test_missing_key3_is_dropped_at_open_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, sent: int
) -> None:
    listener = await memory_server(nursery, open_timeout=7)
    client = await listener.connect()
    start = trio.current_time()
    await client.send_all(EXAMPLE_HEAD + KEY3[:sent])
    assert await receive_until_eof(client) == b""  # dropped, nothing answered
    assert trio.current_time() - start == pytest.approx(7)


# --- Loopback: draft-76 and RFC 6455 clients on one server --------------------


async def test_draft76_and_rfc6455_clients_share_a_server(
    nursery: trio.Nursery,
) -> None:
    server: WebSocketServer = await start_server(nursery, draft76=True)
    host = f"127.0.0.1:{server.port}"
    head = EXAMPLE_HEAD.replace(b"example.com\r\n", host.encode() + b"\r\n", 1)
    key3 = b"\x00\xff\r\n\r\n12"  # any 8 bytes, even ones that look like HTTP
    with trio.fail_after(TEST_TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(head + key3)
            response, answer = await receive_response(stream)
            assert answer == challenge_response(
                key_number(KEY1), key_number(KEY2), key3
            )
            assert f"Sec-WebSocket-Location: ws://{host}/demo\r\n".encode() in response
            assert b"Sec-WebSocket-Protocol" not in response  # not supported here
            async with open_websocket_url(f"ws://{host}/rfc") as ws:
                await ws.send(b"binary works here")
                assert await ws.receive() == b"binary works here"
            await stream.send_all(text("legacy"))
            assert await receive_exactly(stream, 8) == text("legacy")
            await stream.send_all(CLOSE)
            assert await receive_until_eof(stream) == CLOSE
    # Plain HTTP still gets its 426 on that server.
    status, _, _ = await http_exchange(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert status == 426
    await server.aclose()
