"""MessageAssembler on its own: data frames in, whole messages out."""

from __future__ import annotations

import pytest

from trio_ws import LocalProtocolError, RemoteProtocolError
from trio_ws._core._assembler import (
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageAssembler,
)
from trio_ws._core._deflate import DeflateOptions, DeflateParams, PerMessageDeflate
from trio_ws._core._frames import Frame, FrameParser, Opcode, build_frame

KEY = b"\x01\x02\x03\x04"
PARAMS = DeflateParams(
    server_no_context_takeover=False,
    client_no_context_takeover=False,
    server_max_window_bits=15,
    client_max_window_bits=15,
)


def deflate(*, is_client: bool) -> PerMessageDeflate:
    return PerMessageDeflate(PARAMS, is_client=is_client, options=DeflateOptions())


def text(payload: bytes, *, fin: bool = True, rsv1: bool = False) -> Frame:
    return Frame(Opcode.TEXT, payload, fin=fin, rsv1=rsv1)


def cont(payload: bytes, *, fin: bool = True, rsv1: bool = False) -> Frame:
    return Frame(Opcode.CONTINUATION, payload, fin=fin, rsv1=rsv1)


def fails(assembler: MessageAssembler, *frames: Frame) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        for frame in frames:
            assembler.receive_frame(frame)
    return info.value


def test_defaults() -> None:
    assembler = MessageAssembler()
    assert assembler.max_message_size == DEFAULT_MAX_MESSAGE_SIZE
    assert assembler.max_fragments == DEFAULT_MAX_FRAGMENTS
    assert assembler.extension is None


def test_single_frame_messages() -> None:
    assembler = MessageAssembler()
    # A whole message comes out as its payload: str for text, bytes for binary
    # (the protocol's events() wraps it in a TextMessage or BinaryMessage).
    message = assembler.receive_frame(text("héllo".encode()))
    assert type(message) is str and message == "héllo"
    message = assembler.receive_frame(Frame(Opcode.BINARY, b"\x00"))
    assert type(message) is bytes and message == b"\x00"


def test_fragments_build_one_message_then_the_next_starts_afresh() -> None:
    snowman = "☃".encode()
    assembler = MessageAssembler(max_message_size=10)
    assert assembler.receive_frame(text(b"a" + snowman[:1], fin=False)) is None
    assert assembler.frame_limit() == 8
    assert assembler.receive_frame(cont(snowman[1:], fin=False)) is None
    assert assembler.receive_frame(cont(b"")) == "a☃"
    assert assembler.frame_limit() == 10
    frames = [Frame(Opcode.BINARY, b"x", fin=False), cont(b"y", fin=False), cont(b"z")]
    assert [assembler.receive_frame(f) for f in frames] == [
        None,
        None,
        b"xyz",
    ]


@pytest.mark.parametrize(
    ("frames", "code", "words"),
    [
        ([cont(b"x")], 1002, "continuation"),
        ([text(b"a", fin=False), text(b"b")], 1002, "fragmented"),
        ([text(b"x", rsv1=True)], 1002, "reserved"),
        ([Frame(Opcode.BINARY, b"x", rsv3=True)], 1002, "reserved"),
        ([text(b"\xff")], 1007, "UTF-8"),
        ([text(b"\xe2\x98", fin=False), cont(b"")], 1007, "UTF-8"),
    ],
)
def test_peer_faults(frames: list[Frame], code: int, words: str) -> None:
    error = fails(MessageAssembler(), *frames)
    assert error.close_code == code
    assert words in str(error)


def test_rsv_rules_with_the_extension() -> None:
    error = fails(
        MessageAssembler(extension=deflate(is_client=False)),
        text(b"a", fin=False),
        cont(b"b", rsv1=True),
    )
    assert "continuation" in str(error)
    error = fails(
        MessageAssembler(extension=deflate(is_client=False)),
        Frame(Opcode.TEXT, b"a", rsv2=True),
    )
    assert "reserved" in str(error)


def test_control_frames_are_not_for_the_assembler() -> None:
    with pytest.raises(LocalProtocolError):
        MessageAssembler().receive_frame(Frame(Opcode.PING, b""))


def test_fragment_count_limit() -> None:
    assembler = MessageAssembler(max_fragments=2)
    error = fails(assembler, text(b"a", fin=False), cont(b"b", fin=False), cont(b""))
    assert error.close_code == 1009


def test_uncompressed_size_is_checked_when_the_extension_is_negotiated() -> None:
    # With the extension the frame limit leaves room for deflate overhead, so
    # the uncompressed size is checked exactly once the frame is complete.
    assembler = MessageAssembler(max_message_size=4, extension=deflate(is_client=False))
    limit = assembler.frame_limit()
    assert limit is not None and limit > 4
    assert assembler.receive_frame(text(b"abc", fin=False)) is None
    assert fails(assembler, cont(b"de")).close_code == 1009


def test_no_limit() -> None:
    assembler = MessageAssembler(max_message_size=None, max_fragments=None)
    assert assembler.frame_limit() is None
    assert assembler.receive_frame(Frame(Opcode.BINARY, bytes(5 << 20))) is not None


def test_compressed_message_is_inflated() -> None:
    sender = deflate(is_client=True)
    assembler = MessageAssembler(extension=deflate(is_client=False))
    payload = sender.compress(b"hello hello hello")
    first = assembler.receive_frame(text(payload[:4], fin=False, rsv1=True))
    assert first is None
    assert assembler.receive_frame(cont(payload[4:])) == "hello hello hello"


def test_compressed_message_bounded_by_the_size_limit() -> None:
    sender = deflate(is_client=True)
    assembler = MessageAssembler(
        max_message_size=100, extension=deflate(is_client=False)
    )
    payload = sender.compress(bytes(1000))
    error = fails(assembler, Frame(Opcode.BINARY, payload, rsv1=True))
    assert error.close_code == 1009


def pending_parser(payload: bytes, received: int, *, opcode: Opcode) -> FrameParser:
    """A server-side parser holding the first bytes of a frame's payload."""
    parser = FrameParser(expect_masked=True)
    wire = build_frame(opcode, payload, mask_key=KEY)
    parser.feed(wire[: len(wire) - len(payload) + received])
    assert parser.next_frame() is None
    return parser


def test_validate_pending_fails_fast_on_a_partial_frame() -> None:
    parser = pending_parser(b"ok \xff and more", 4, opcode=Opcode.TEXT)
    with pytest.raises(RemoteProtocolError) as info:
        MessageAssembler().validate_pending(parser)
    assert info.value.close_code == 1007


def test_validate_pending_then_the_whole_frame() -> None:
    data = "κόσμε " * 5
    wire = build_frame(Opcode.TEXT, data.encode(), mask_key=KEY)
    assembler = MessageAssembler()
    parser = FrameParser(expect_masked=True)
    for start, end in ((0, 9), (9, 9), (9, 20)):  # header: 6 bytes
        parser.feed(wire[start:end])
        assert parser.next_frame() is None
        assembler.validate_pending(parser)  # each byte is decoded once
    parser.feed(wire[20:])
    frame = parser.next_frame()
    assert frame is not None
    assert assembler.receive_frame(frame) == data


def test_validate_pending_inside_a_fragmented_message() -> None:
    assembler = MessageAssembler()
    assert assembler.receive_frame(text(b"valid ", fin=False)) is None
    wire = build_frame(Opcode.CONTINUATION, b"ok \xf4\x90 more", mask_key=KEY)
    parser = FrameParser(expect_masked=True)
    parser.feed(wire[:10])
    assert parser.next_frame() is None
    assembler.validate_pending(parser)  # "ok \xf4" could still be valid
    parser.feed(wire[10:11])  # \x90 after \xf4 is out of range
    assert parser.next_frame() is None
    with pytest.raises(RemoteProtocolError) as info:
        assembler.validate_pending(parser)
    assert info.value.close_code == 1007


def test_validate_pending_skips_what_it_cannot_check() -> None:
    assembler = MessageAssembler()
    # Binary payloads need no check; nothing pending is fine too.
    assembler.validate_pending(pending_parser(b"\xff\xff", 1, opcode=Opcode.BINARY))
    assembler.validate_pending(FrameParser(expect_masked=True))
