"""The core's streaming seams: paused fragmented messages, chunks, fragments out."""

from __future__ import annotations

import pytest

from trio_ws import LocalProtocolError
from trio_ws._core._deflate import DeflateOptions, DeflateParams, PerMessageDeflate
from trio_ws._core._events import (
    BinaryMessage,
    Event,
    MessageChunk,
    MessageStart,
    Ping,
    ProtocolFailure,
    TextMessage,
)
from trio_ws._core._frames import FrameParser, Opcode, build_frame
from trio_ws._core._protocol import Protocol, Role, State

from .test_protocol import KEY
from .test_protocol import client_frame as frame


def fragmented(opcode: Opcode, *parts: bytes) -> bytes:
    out = [frame(opcode, parts[0], fin=len(parts) == 1)]
    for index, part in enumerate(parts[1:], 2):
        out.append(frame(Opcode.CONTINUATION, part, fin=index == len(parts)))
    return b"".join(out)


def paused_server(**kwargs: object) -> Protocol:
    return Protocol(Role.SERVER, pause_fragmented=True, **kwargs)  # type: ignore[arg-type]


def deflate_pair() -> tuple[PerMessageDeflate, PerMessageDeflate]:
    params = DeflateParams(False, False, 15, 15)
    options = DeflateOptions(threshold=0)
    return (
        PerMessageDeflate(params, is_client=True, options=options),
        PerMessageDeflate(params, is_client=False, options=options),
    )


def test_single_frame_messages_never_pause() -> None:
    proto = paused_server()
    proto.receive_data(frame(Opcode.TEXT, b"hi") + frame(Opcode.BINARY, b"\x00"))
    assert proto.events() == [TextMessage("hi"), BinaryMessage(b"\x00")]
    assert not proto.paused


def test_pause_then_whole_gives_the_same_message_as_without_pausing() -> None:
    data = fragmented(Opcode.TEXT, b"ab", b"cd", b"ef") + frame(Opcode.TEXT, b"next")
    proto = paused_server()
    proto.receive_data(data)
    assert proto.events() == [MessageStart(is_text=True)]
    assert proto.paused
    with pytest.raises(LocalProtocolError):
        proto.receive_data(b"more")  # the caller must decide first
    proto.choose_message_mode(stream=False)
    assert proto.events() == [TextMessage("abcdef"), TextMessage("next")]
    assert proto.messages_received == 2


def test_pause_then_stream_gives_one_chunk_per_frame() -> None:
    data = fragmented(Opcode.BINARY, b"ab", b"", b"cd") + frame(Opcode.TEXT, b"next")
    proto = paused_server()
    proto.receive_data(data)
    assert proto.events() == [MessageStart(is_text=False)]
    proto.choose_message_mode(stream=True)
    assert proto.events() == [
        MessageChunk(b"ab", False),
        MessageChunk(b"", False),
        MessageChunk(b"cd", True),
        TextMessage("next"),
    ]
    assert proto.messages_received == 2
    assert proto.bytes_received == 8


def test_control_frames_inside_a_streamed_message_are_handled() -> None:
    proto = paused_server()
    proto.receive_data(frame(Opcode.TEXT, b"a", fin=False))
    assert proto.events() == [MessageStart(is_text=True)]
    proto.choose_message_mode(stream=True)
    proto.receive_data(frame(Opcode.PING, b"p") + frame(Opcode.CONTINUATION, b"b"))
    assert proto.events() == [
        MessageChunk("a", False),
        Ping(b"p"),
        MessageChunk("b", True),
    ]


def test_streamed_text_is_decoded_incrementally_across_frames() -> None:
    snowman = "☃".encode()  # 3 bytes, split over two frames
    proto = paused_server()
    proto.receive_data(fragmented(Opcode.TEXT, b"x" + snowman[:1], snowman[1:] + b"y"))
    proto.events()
    proto.choose_message_mode(stream=True)
    assert proto.events() == [MessageChunk("x", False), MessageChunk("☃y", True)]


def test_streamed_text_fails_fast_on_invalid_utf8() -> None:
    proto = paused_server()
    proto.receive_data(frame(Opcode.TEXT, b"ok", fin=False))
    proto.events()
    proto.choose_message_mode(stream=True)
    proto.receive_data(frame(Opcode.CONTINUATION, b"\xff", fin=False))
    events = proto.events()
    assert isinstance(events[-1], ProtocolFailure)
    assert proto.error is not None and proto.error.close_code == 1007


def test_streamed_message_may_exceed_max_message_size_but_not_per_frame() -> None:
    proto = paused_server(max_message_size=4)
    proto.receive_data(fragmented(Opcode.BINARY, b"1234", b"5678", b"9"))
    proto.events()
    proto.choose_message_mode(stream=True)
    chunks = proto.events()
    assert b"".join(c.data for c in chunks if isinstance(c, MessageChunk)) == (
        b"123456789"
    )
    # The same message received whole is too big.
    whole = paused_server(max_message_size=4)
    whole.receive_data(fragmented(Opcode.BINARY, b"1234", b"5678"))
    whole.events()
    whole.choose_message_mode(stream=False)
    assert whole.error is not None and whole.error.close_code == 1009
    # A single frame over the limit fails a streamed message too.
    big = paused_server(max_message_size=4)
    big.receive_data(frame(Opcode.BINARY, b"12", fin=False))
    big.events()
    big.choose_message_mode(stream=True)
    big.receive_data(frame(Opcode.CONTINUATION, b"12345"))
    assert big.error is not None and big.error.close_code == 1009


def test_fragment_limit_applies_to_streamed_messages() -> None:
    proto = paused_server(max_fragments=3)
    proto.receive_data(fragmented(Opcode.BINARY, b"a", b"b", b"c", b"d"))
    proto.events()
    proto.choose_message_mode(stream=True)
    assert proto.error is not None and proto.error.close_code == 1009


def test_reserved_bits_fail_before_pausing() -> None:
    proto = paused_server()
    bad = build_frame(Opcode.TEXT, b"a", fin=False, rsv1=True, mask_key=KEY)
    proto.receive_data(bad)
    assert not proto.paused
    assert proto.error is not None and proto.error.close_code == 1002


def test_choose_without_pause_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        paused_server().choose_message_mode(stream=True)


def sent(proto: Protocol) -> list[tuple[Opcode, bool, bool, bytes]]:
    parser = FrameParser(expect_masked=proto.role is Role.CLIENT)
    parser.feed(proto.data_to_send())
    frames = []
    while (f := parser.next_frame()) is not None:
        frames.append((f.opcode, f.fin, f.rsv1, f.payload))
    return frames


def test_send_fragment_frames_a_message() -> None:
    proto = Protocol(Role.SERVER)
    proto.send_fragment("ab", final=False)
    with pytest.raises(LocalProtocolError):
        proto.send_text("other message")  # would interleave (RFC 6455 5.4)
    with pytest.raises(LocalProtocolError):
        proto.send_fragment(b"bytes", final=False)  # text continues as text
    proto.send_ping(b"p")  # control frames may interleave
    proto.send_fragment("cd", final=True)
    proto.send_text("after")
    assert sent(proto) == [
        (Opcode.TEXT, False, False, b"ab"),
        (Opcode.PING, True, False, b"p"),
        (Opcode.CONTINUATION, True, False, b"cd"),
        (Opcode.TEXT, True, False, b"after"),
    ]
    assert proto.messages_sent == 2
    assert proto.bytes_sent == 9
    assert proto.frames_sent == 4


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_compressed_fragments_round_trip(stream: bool) -> None:
    client_ext, server_ext = deflate_pair()
    sender = Protocol(Role.CLIENT, extension=client_ext)
    receiver = paused_server(extension=server_ext)
    parts = [b"hello " * 50, b"", b"world " * 50]
    for index, part in enumerate(parts):
        sender.send_fragment(part, final=index == len(parts) - 1)
    wire = sender.data_to_send()
    frames = FrameParser(expect_masked=True)
    frames.feed(wire)
    rsv1 = [f.rsv1 for f in iter(frames.next_frame, None)]
    assert rsv1 == [True, False, False]  # RFC 7692 6: first frame only
    assert len(wire) < sum(map(len, parts))  # compressed
    receiver.receive_data(wire)
    assert receiver.events() == [MessageStart(is_text=False)]
    receiver.choose_message_mode(stream=stream)
    events: list[Event] = receiver.events()
    if stream:
        data = b"".join(e.data for e in events if isinstance(e, MessageChunk))
        assert isinstance(events[-1], MessageChunk) and events[-1].final
    else:
        (message,) = events
        assert isinstance(message, BinaryMessage)
        data = message.data
    assert data == b"".join(parts)
    # The contexts stay in step for the next message.
    sender.send_binary(b"again " * 30)
    receiver.receive_data(sender.data_to_send())
    assert receiver.events() == [BinaryMessage(b"again " * 30)]
    assert receiver.state is State.OPEN


def test_counters_count_frames_and_wire_bytes() -> None:
    proto = Protocol(Role.SERVER)
    data = frame(Opcode.TEXT, b"abc") + frame(Opcode.PING, b"")
    proto.receive_data(data)
    proto.events()
    assert proto.frames_received == 2
    assert proto.wire_bytes_received == len(data)
    assert proto.messages_received == 1 and proto.bytes_received == 3
    proto.send_binary(b"12345")
    out = proto.data_to_send()  # the pong and the message
    assert proto.wire_bytes_sent == len(out)
    assert proto.frames_sent == 2 and proto.messages_sent == 1
