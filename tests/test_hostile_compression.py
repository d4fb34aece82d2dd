"""permessage-deflate against hostile peers, over loopback: bombs, bad
negotiation on either side, and context takeover after a failed message.
(The core-level versions: tests/core/test_deflate.py, test_protocol_deflate.py.)
"""

from __future__ import annotations

import contextlib
import tracemalloc
import zlib
from typing import Any

import pytest
import trio

from trio_ws import (
    ConnectionClosed,
    DeflateOptions,
    InvalidHandshake,
    WebSocket,
    open_websocket_url,
)
from trio_ws._core import _handshake as hs
from trio_ws._core._deflate import PerMessageDeflate, client_accept, client_offer
from trio_ws._core._events import BinaryMessage, CloseReceived, TextMessage
from trio_ws._core._frames import Opcode
from trio_ws._core._protocol import Protocol, Role

from .conftest import TEST_TIMEOUT, RawPeer, start_server
from .core.test_protocol import client_frame


async def upgrade(port: int, offer: str | None) -> tuple[RawPeer, hs.Response]:
    """Open a raw connection offering ``offer``; return it and the answer.

    When permessage-deflate is agreed, the peer's protocol compresses and
    inflates like a client would (context takeover, the agreed windows).
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    url = hs.WebSocketURL(
        scheme="ws", host="test", port=port, resource="/", secure=False
    )
    extensions = [offer] if offer is not None else []
    await stream.send_all(
        hs.build_request(url, hs.generate_key(), extensions=extensions)
    )
    reader = hs.HeadReader()
    while not reader.feed(bytes(await stream.receive_some(65536))):
        pass
    response = hs.parse_response(reader.head)
    peer = RawPeer(stream)
    agreed = response.get("Sec-WebSocket-Extensions")
    if agreed is not None:
        params = client_accept(agreed, DeflateOptions())
        peer.protocol = Protocol(
            Role.CLIENT,
            max_message_size=None,
            extension=PerMessageDeflate(
                params, is_client=True, options=DeflateOptions()
            ),
        )
    return peer, response


def bomb(mib: int = 64) -> bytes:
    """``mib`` MiB of zeros, deflated (RFC 7692 7.2.1: sync flush, no tail)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    data = b"".join(compressor.compress(chunk) for _ in range(mib))
    return data + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]


async def read_close(peer: RawPeer) -> CloseReceived:
    while not isinstance(event := await peer.next_event(), CloseReceived):
        pass
    return event


# ---------------------------------------------------------------------- bombs


@pytest.mark.parametrize("split", ["one-frame", "fragments"])
async def test_bomb_closes_with_1009_in_bounded_memory(
    nursery: trio.Nursery, split: str
) -> None:
    # 64 MiB of zeros in ~64 KB; max_message_size is 1 MiB: inflating stops
    # one byte past it, whether the bomb comes in one frame or in 64.
    outcome: dict[str, Any] = {}

    async def handler(ws: WebSocket) -> None:
        try:
            async for message in ws:
                outcome.setdefault("messages", []).append(message)
        except ConnectionClosed as exc:
            outcome["error"] = exc

    server = await start_server(nursery, handler)
    payload = bomb()
    if split == "one-frame":
        data = client_frame(Opcode.BINARY, payload, rsv1=True)
    else:
        step = len(payload) // 64 + 1
        pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
        data = client_frame(Opcode.BINARY, pieces[0], fin=False, rsv1=True)
        data += b"".join(
            client_frame(Opcode.CONTINUATION, p, fin=i == len(pieces) - 1)
            for i, p in enumerate(pieces[1:], 1)
        )
    with trio.fail_after(TEST_TIMEOUT):
        peer, response = await upgrade(server.port, client_offer(DeflateOptions()))
        assert response.status_code == 101
        tracemalloc.start()
        try:
            await peer.send_raw(data)
            close = await read_close(peer)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert close.reason.code == 1009
    assert "messages" not in outcome
    # A 1 MiB inflate buffer and what surrounds it, not 64 MiB.
    assert peak < 8 << 20, peak


# -------------------------------------------------- negotiation, server side


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; x-bogus",
    ],
)
async def test_server_declines_bad_deflate_parameters(
    nursery: trio.Nursery, offer: str
) -> None:
    # RFC 7692 5: an offer it cannot accept is declined, not failed: the
    # connection opens without compression, and a compressed frame from the
    # peer is then a protocol error (RSV1 unnegotiated: 1002).
    server = await start_server(nursery)
    with trio.fail_after(TEST_TIMEOUT):
        peer, response = await upgrade(server.port, offer)
        assert response.status_code == 101
        assert response.get("Sec-WebSocket-Extensions") is None
        await peer.send_raw(client_frame(Opcode.TEXT, b"plain"))
        assert await peer.next_event() == TextMessage("plain")
        await peer.send_raw(client_frame(Opcode.TEXT, b"\x00", rsv1=True))
        assert (await read_close(peer)).reason.code == 1002


async def test_server_takes_the_first_acceptable_offer(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    with trio.fail_after(TEST_TIMEOUT):
        _peer, response = await upgrade(
            server.port,
            "permessage-deflate; server_max_window_bits=99, permessage-deflate",
        )
    assert response.get("Sec-WebSocket-Extensions") == "permessage-deflate"


async def test_unparseable_extension_header_gets_400(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    with trio.fail_after(TEST_TIMEOUT):
        _, response = await upgrade(server.port, 'permessage-deflate; a="b')
    assert response.status_code == 400


# -------------------------------------------------- negotiation, client side


@pytest.mark.parametrize(
    "answer",
    [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=15",  # we asked for 12
        "permessage-deflate; client_max_window_bits",  # needs a value here
        "permessage-deflate; x-bogus",
        "permessage-deflate, permessage-deflate",
        "x-webkit-deflate-frame",
    ],
)
async def test_client_fails_on_a_bad_deflate_answer(
    nursery: trio.Nursery, answer: str
) -> None:
    # RFC 7692 5 / RFC 6455 4.1: a client cannot decline the server's
    # answer; it fails the connection (and closes TCP).
    saw_eof = trio.Event()

    async def bad_server(stream: trio.SocketStream) -> None:
        reader = hs.HeadReader()
        while not reader.feed(bytes(await stream.receive_some(65536))):
            pass
        offer = hs.validate_request(hs.parse_request(reader.head))
        await stream.send_all(hs.build_accept_response(offer, extensions=answer))
        with contextlib.suppress(trio.BrokenResourceError):
            while await stream.receive_some(65536):
                pass
        saw_eof.set()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, bad_server, listeners)
    with trio.fail_after(TEST_TIMEOUT):
        with pytest.raises(InvalidHandshake, match=r"permessage-deflate|extension"):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/"):
                pass
        await saw_eof.wait()


# ----------------------------------------- context takeover after a failure


@pytest.mark.parametrize(
    ("bad_payload", "code"),
    [(b"\xff\xff\xff\xff", 1007), (bomb(4), 1009)],
    ids=["corrupt", "bomb"],
)
async def test_a_failed_compressed_message_ends_only_its_own_connection(
    nursery: trio.Nursery, bad_payload: bytes, code: int
) -> None:
    # Both connections compress with context takeover. One sends a message
    # that cannot be inflated (corrupt data, or a bomb), then a good one in
    # the same write: it is closed with the right code and nothing after the
    # bad message is delivered. The other connection, whose zlib streams
    # are its own, goes on, as does a connection opened afterwards.
    received: dict[str, list[str | bytes]] = {}
    errors: dict[str, ConnectionClosed] = {}

    async def handler(ws: WebSocket) -> None:
        assert ws.request is not None
        name = ws.request.path
        try:
            async for message in ws:
                received.setdefault(name, []).append(message)
                await ws.send(message)
        except ConnectionClosed as exc:
            errors[name] = exc

    server = await start_server(nursery, handler)
    text = "the same words, again and again, compress well with takeover " * 4
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/good") as good:
            assert good.extensions is not None  # deflate, with context takeover
            await good.send(text)
            assert await good.receive() == text

            peer, _response = await upgrade(server.port, client_offer(DeflateOptions()))
            peer.protocol.send_text(text)  # compressed, building the context
            peer.protocol.send_text(text)
            await peer.flush()
            for _ in range(2):
                assert await peer.next_event() == TextMessage(text)
            # Hand-built: the bad message (RSV1 set), then a good one.
            peer.protocol.send_binary(b"never delivered")
            after = peer.protocol.data_to_send()
            await peer.send_raw(
                client_frame(Opcode.BINARY, bad_payload, rsv1=True) + after
            )
            assert (await read_close(peer)).reason.code == code

            for i in range(3):  # the other connection's context is intact
                await good.send(f"{text}{i}")
                assert await good.receive() == f"{text}{i}"
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/later") as later:
            await later.send(text)
            assert await later.receive() == text
    assert errors["/"].reason.code == code
    assert received["/"] == [text, text]  # nothing after the bad message
    assert received["/good"] == [text] + [f"{text}{i}" for i in range(3)]
    assert BinaryMessage(b"never delivered") not in peer.events
