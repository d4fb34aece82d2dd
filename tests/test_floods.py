"""Floods over loopback: each ends the flooding connection alone, with the right
code, in bounded memory (the core-level versions are in tests/core/test_floods.py).
"""

from __future__ import annotations

import contextlib
import socket
import tracemalloc
from typing import Any

import trio

from trio_ws import ConnectionClosed, WebSocket, WriteTimeout, open_websocket_url
from trio_ws._core._events import CloseReceived, Event
from trio_ws._core._frames import Opcode, build_frame
from trio_ws._core._protocol import DEFAULT_MAX_FRAGMENTS

from .conftest import TEST_TIMEOUT, RawPeer, open_raw, start_server

KEY = b"\x01\x02\x03\x04"


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    return build_frame(opcode, payload, fin=fin, mask_key=KEY)


def recording_echo(outcome: dict[str, Any]) -> Any:
    """An echo handler that records how its connection closed."""
    outcome["done"] = trio.Event()

    async def handler(ws: WebSocket) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed as exc:
            outcome["error"] = exc
            raise
        finally:
            outcome["done"].set()

    return handler


async def flood_and_read_close(peer: RawPeer, data: bytes) -> CloseReceived:
    """Send ``data`` while reading; return the server's close frame."""
    close: list[Event] = []

    async def send() -> None:
        # (The server may hang up mid-flood.)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await peer.send_raw(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        while not isinstance(event := await peer.next_event(), CloseReceived):
            pass
        close.append(event)
        nursery.cancel_scope.cancel()
    event = close[0]
    assert isinstance(event, CloseReceived)
    return event


async def test_200k_empty_continuation_frames_close_with_1009(
    nursery: trio.Nursery,
) -> None:
    outcome: dict[str, Any] = {}
    server = await start_server(nursery, recording_echo(outcome), compression=None)
    data = (
        client_frame(Opcode.TEXT, b"", fin=False)
        + client_frame(Opcode.CONTINUATION, b"", fin=False) * 200_000
    )
    with trio.fail_after(TEST_TIMEOUT):
        peer = await open_raw(server.port)
        await peer.client_handshake()
        close = await flood_and_read_close(peer, data)
        # The server is fine: the next client is served.
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("after the flood")
            assert await ws.receive() == "after the flood"
    assert close.reason.code == 1009
    assert outcome["error"].reason.code == 1009


async def test_one_byte_fragments_at_full_speed_close_with_1009(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery, compression=None)
    middle = client_frame(Opcode.CONTINUATION, "語".encode(), fin=False)
    data = client_frame(Opcode.TEXT, "語".encode(), fin=False) + middle * (
        DEFAULT_MAX_FRAGMENTS + 10
    )
    with trio.fail_after(TEST_TIMEOUT):
        peer = await open_raw(server.port)
        await peer.client_handshake()
        close = await flood_and_read_close(peer, data)
    assert close.reason.code == 1009


async def test_100k_pings_from_a_peer_that_never_reads_pongs(
    nursery: trio.Nursery,
) -> None:
    # 100k pings of 125 bytes would take 12.7 MB of pongs; the peer reads
    # none (a 4 KiB receive buffer). The server's pongs wait in bounded
    # buffers (at most 64 unsent in the core, the socket's send buffer),
    # its write stalls, and write_timeout aborts the connection.
    outcome: dict[str, Any] = {}
    server = await start_server(
        nursery,
        recording_echo(outcome),
        compression=None,
        ping_interval=None,
        write_timeout=1.0,
    )
    chunk = client_frame(Opcode.PING, bytes(125)) * 1000
    with trio.fail_after(TEST_TIMEOUT):
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", server.port))
        peer = RawPeer(trio.SocketStream(sock))
        await peer.client_handshake()
        tracemalloc.start()
        try:
            try:
                for _ in range(100):
                    await peer.send_raw(chunk)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # aborted before the flood was over
            await outcome["done"].wait()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        await peer.stream.aclose()
    error = outcome["error"]
    assert error.reason.code == 1006  # aborted: no close frame can get through
    assert isinstance(error.__cause__, WriteTimeout)
    # Client and server together, in this process: the flood's chunk
    # (131 KB), reads of 64 KiB, the pongs being written.
    assert peak < 4 << 20, peak
