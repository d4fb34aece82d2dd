"""write_now(): the few bytes a connection writes when it opens and closes
(the 101, the close echo) go to a plain socket at once, without a trip
through the scheduler; whatever the socket does not take is left for
send_all, and streams that are not plain sockets are left alone."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from trio_ws._core._protocol import Role
from trio_ws._options import ConnectionOptions
from trio_ws.connection._ending import Ending
from trio_ws.connection._writer import Writer, _unwritten, write_now


def fill(stream: trio.SocketStream) -> int:
    """Fill the socket's send buffer (and the peer's receive buffer) until
    it takes nothing more; returns how many bytes went in."""
    total = 0
    chunk = [bytes(4096)]
    while (left := write_now(stream, chunk)) is not chunk:
        total += 4096 - sum(len(piece) for piece in left)
    return total


def server_writer(
    stream: trio.SocketStream, close_timeout: float
) -> tuple[Writer, Ending]:
    protocol = ConnectionOptions(compression=None).make_protocol(Role.SERVER)
    protocol.send_close(1000, "bye")
    ending = Ending(stream, protocol)

    async def on_error(exc: BaseException) -> None:
        ending.record_cause(exc)

    writer = Writer(
        stream, protocol, on_error, close_timeout=close_timeout, ending=ending
    )
    return writer, ending


CLOSE_FRAME = b"\x88\x05\x03\xe8bye"


def test_unwritten_pieces() -> None:
    pieces = [b"abc", b"defg", b"h"]
    assert _unwritten(pieces, 0) == pieces
    assert [bytes(p) for p in _unwritten(pieces, 2)] == [b"c", b"defg", b"h"]
    assert _unwritten(pieces, 3) == [b"defg", b"h"]
    assert [bytes(p) for p in _unwritten(pieces, 5)] == [b"fg", b"h"]
    assert _unwritten(pieces, 7) == [b"h"]
    assert not _unwritten(pieces, 8)


async def test_a_stream_that_is_no_plain_socket_is_left_alone() -> None:
    a, _ = trio.testing.memory_stream_pair()
    pieces = [b"abc"]
    assert write_now(a, pieces) is pieces


async def test_a_plain_socket_takes_the_pieces_at_once() -> None:
    a, b = trio.socket.socketpair()
    stream = trio.SocketStream(a)
    with trio.testing.assert_no_checkpoints():
        assert not write_now(stream, [b"one", b"two"])
        assert not write_now(stream, [b"three"])
    assert await b.recv(100) == b"onetwothree"
    await stream.aclose()
    b.close()


async def test_a_full_send_buffer_leaves_everything_to_send_all() -> None:
    a, b = trio.socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = trio.SocketStream(a)
    fill(stream)
    pieces = [b"close", b"echo"]
    assert write_now(stream, pieces) is pieces
    await stream.aclose()
    b.close()


async def test_a_closed_socket_leaves_the_error_to_send_all() -> None:
    a, b = trio.socket.socketpair()
    stream = trio.SocketStream(a)
    a.close()
    pieces = [b"x"]
    assert write_now(stream, pieces) is pieces
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"x")
    b.close()


async def test_a_close_echo_the_socket_takes_at_once_needs_no_checkpoint() -> None:
    a, b = trio.socket.socketpair()
    stream = trio.SocketStream(a)
    writer, ending = server_writer(stream, close_timeout=5)
    with trio.testing.assert_no_checkpoints():
        await writer.flush_shielded(then_close=True)
    assert ending.stream_closed
    assert await b.recv(100) == CLOSE_FRAME
    assert await b.recv(100) == b""
    b.close()


async def test_a_close_echo_that_does_not_fit_waits_shielded_then_closes() -> None:
    # The socket's buffer is full: the echo is written by send_all as the
    # peer reads, shielded from the caller's cancellation.
    a, b = trio.socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = trio.SocketStream(a)
    filled = fill(stream)
    writer, ending = server_writer(stream, close_timeout=30)
    received = bytearray()

    async def read_all() -> None:
        await trio.sleep(0.1)
        while data := await b.recv(65536):
            received.extend(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_all)
        with trio.CancelScope() as scope:
            scope.cancel()  # the caller is cancelled: the echo still goes out
            await writer.flush_shielded(then_close=True)
    assert ending.stream_closed and ending.cause is None
    assert len(received) == filled + len(CLOSE_FRAME)
    assert received.endswith(CLOSE_FRAME)
    b.close()


async def test_a_close_echo_the_peer_never_reads_is_given_up_after_close_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a, b = trio.socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = trio.SocketStream(a)
    fill(stream)
    writer, ending = server_writer(stream, close_timeout=5)
    start = trio.current_time()
    await writer.flush_shielded(then_close=True)
    assert trio.current_time() - start == pytest.approx(5)
    # Cut short: the Writer's error hook is told (a WebSocket's aborts).
    assert isinstance(ending.cause, trio.BrokenResourceError)
    b.close()
