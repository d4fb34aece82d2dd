"""The outgoing buffer: data_to_send() and data_to_send_pieces()."""

import os

from trio_ws._core._buffers import WRITE_PIECE
from trio_ws._core._frames import Opcode, build_frame
from trio_ws._core._protocol import Protocol, Role


def test_a_large_server_payload_is_handed_over_uncopied() -> None:
    payload = os.urandom(1 << 20)
    proto = Protocol(Role.SERVER)
    proto.send_binary(payload)
    pieces = proto.data_to_send_pieces()
    assert b"".join(pieces) == build_frame(Opcode.BINARY, payload)
    # The header and the payload's head, then a view of the payload itself.
    assert len(pieces) == 2
    assert len(pieces[0]) == 10 + WRITE_PIECE
    tail = pieces[1]
    assert isinstance(tail, memoryview) and tail.obj is payload
    assert proto.data_to_send_pieces() == []
    assert proto.wire_bytes_sent == 10 + len(payload)


def test_small_frames_are_joined_around_a_large_one() -> None:
    payload = os.urandom(WRITE_PIECE * 2 + 5)
    proto = Protocol(Role.SERVER)
    proto.send_text("before")
    proto.send_ping(b"p")
    proto.send_binary(payload)
    proto.send_text("after")
    proto.send_binary(b"x")
    pieces = proto.data_to_send_pieces()
    expected = (
        build_frame(Opcode.TEXT, b"before")
        + build_frame(Opcode.PING, b"p")
        + build_frame(Opcode.BINARY, payload)
        + build_frame(Opcode.TEXT, b"after")
        + build_frame(Opcode.BINARY, b"x")
    )
    assert b"".join(pieces) == expected
    # [small frames + header + head of the payload], [rest of the payload],
    # [the small frames after it, joined].
    assert [len(p) for p in pieces] == [
        8 + 3 + 10 + WRITE_PIECE,
        WRITE_PIECE + 5,
        7 + 3,
    ]


def test_a_payload_of_exactly_one_piece_leaves_no_empty_write() -> None:
    payload = os.urandom(WRITE_PIECE)
    proto = Protocol(Role.SERVER)
    proto.send_binary(payload)
    pieces = proto.data_to_send_pieces()
    assert len(pieces) == 1
    assert bytes(pieces[0]) == build_frame(Opcode.BINARY, payload)


def test_data_to_send_still_returns_one_buffer() -> None:
    payload = os.urandom(WRITE_PIECE + 1)
    proto = Protocol(Role.SERVER)
    proto.send_binary(payload)
    proto.send_text("after")
    data = proto.data_to_send()
    assert isinstance(data, bytes)
    assert data == build_frame(Opcode.BINARY, payload) + build_frame(
        Opcode.TEXT, b"after"
    )


def test_client_frames_are_masked_whole() -> None:
    # A client's payload is masked into a new buffer anyway: one piece.
    proto = Protocol(Role.CLIENT)
    proto.send_binary(os.urandom(WRITE_PIECE * 3))
    assert len(proto.data_to_send_pieces()) == 1
