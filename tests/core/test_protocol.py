"""Protocol state machine: bytes in, events out; commands in, bytes out."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from trio_ws import LocalProtocolError
from trio_ws._core._events import (
    BinaryMessage,
    CloseReason,
    CloseReceived,
    ConnectionLost,
    Event,
    Ping,
    Pong,
    ProtocolFailure,
    TextMessage,
)
from trio_ws._core._frames import (
    COLLECT_MIN,
    Frame,
    FrameParser,
    Opcode,
    build_frame,
)
from trio_ws._core._protocol import (
    DEFAULT_MAX_FRAGMENTS,
    TRANSITIONS,
    Protocol,
    Role,
    State,
    _Input,
)

KEY = b"\x11\x22\x33\x44"


def client_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False
) -> bytes:
    """A frame as a client sends it (masked), for feeding a server protocol."""
    return build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=KEY)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


Feeder = Callable[[Protocol, bytes], list[Event]]


def feed_whole(proto: Protocol, data: bytes) -> list[Event]:
    proto.receive_data(data)
    return proto.events()


def feed_bytewise(proto: Protocol, data: bytes) -> list[Event]:
    events: list[Event] = []
    for i in range(len(data)):
        proto.receive_data(data[i : i + 1])
        events.extend(proto.events())
    return events


@pytest.fixture(params=[feed_whole, feed_bytewise], ids=["whole", "bytewise"])
def feed(request: pytest.FixtureRequest) -> Feeder:
    return request.param  # type: ignore[no-any-return]


def sent_frames(proto: Protocol, *, from_client: bool = False) -> list[Frame]:
    parser = FrameParser(expect_masked=from_client)
    parser.feed(proto.data_to_send())
    frames = []
    while (frame := parser.next_frame()) is not None:
        frames.append(frame)
    assert parser.buffered == 0
    return frames


def server() -> Protocol:
    return Protocol(Role.SERVER)


def assert_failed(proto: Protocol, events: list[Event], code: int) -> None:
    assert proto.state is State.CLOSED
    assert isinstance(events[-1], ProtocolFailure)
    assert proto.error is not None
    assert proto.error.close_code == code
    frames = sent_frames(proto, from_client=proto.role is Role.CLIENT)
    assert frames[-1].opcode is Opcode.CLOSE
    assert struct.unpack("!H", frames[-1].payload[:2])[0] == code
    assert proto.close_reason == CloseReason(code)


# --------------------------------------------------------------- messages


def test_text_and_binary_messages(feed: Feeder) -> None:
    proto = server()
    data = client_frame(Opcode.TEXT, "héllo ☃".encode()) + client_frame(
        Opcode.BINARY, b"\x00\xff"
    )
    assert feed(proto, data) == [TextMessage("héllo ☃"), BinaryMessage(b"\x00\xff")]
    assert proto.data_to_send() == b""


def test_take_events_gives_whole_messages_as_their_payload() -> None:
    # The Trio layer's form of events(): a text message is its str, a binary
    # one its bytes; control events stay events, in wire order.
    proto = server()
    proto.receive_data(
        client_frame(Opcode.TEXT, "héllo".encode())
        + client_frame(Opcode.PING, b"p")
        + client_frame(Opcode.BINARY, b"\x00")
        + client_frame(Opcode.TEXT, b"")
    )
    entries = proto.take_events()
    assert entries == ["héllo", Ping(b"p"), b"\x00", ""]
    assert [type(entry) for entry in entries] == [str, Ping, bytes, str]
    assert proto.take_events() == [] and proto.events() == []


def test_fragmented_message_with_interleaved_control_frames(feed: Feeder) -> None:
    proto = server()
    data = (
        client_frame(Opcode.TEXT, b"Hel", fin=False)
        + client_frame(Opcode.PING, b"p1")
        + client_frame(Opcode.CONTINUATION, b"l", fin=False)
        + client_frame(Opcode.PONG, b"p2")
        + client_frame(Opcode.CONTINUATION, b"o")
    )
    assert feed(proto, data) == [Ping(b"p1"), Pong(b"p2"), TextMessage("Hello")]
    assert sent_frames(proto, from_client=False) == [Frame(Opcode.PONG, b"p1")]


def test_fragmented_binary_and_empty_fragments(feed: Feeder) -> None:
    proto = server()
    data = (
        client_frame(Opcode.BINARY, b"", fin=False)
        + client_frame(Opcode.CONTINUATION, b"ab", fin=False)
        + client_frame(Opcode.CONTINUATION, b"")
    )
    assert feed(proto, data) == [BinaryMessage(b"ab")]


def test_utf8_sequence_split_across_fragments(feed: Feeder) -> None:
    snowman = "☃".encode()
    proto = server()
    data = client_frame(Opcode.TEXT, snowman[:1], fin=False) + client_frame(
        Opcode.CONTINUATION, snowman[1:]
    )
    assert feed(proto, data) == [TextMessage("☃")]


def test_client_role_masks_and_server_does_not() -> None:
    client = Protocol(Role.CLIENT)
    client.send_text("hi")
    assert sent_frames(client, from_client=True) == [Frame(Opcode.TEXT, b"hi")]
    proto = server()
    proto.send_binary(bytearray(b"hi"))
    assert sent_frames(proto, from_client=False) == [Frame(Opcode.BINARY, b"hi")]


def test_client_rejects_masked_frames_from_server(feed: Feeder) -> None:
    client = Protocol(Role.CLIENT)
    assert_failed(client, feed(client, client_frame(Opcode.TEXT, b"x")), 1002)


def test_server_rejects_unmasked_frames_from_client(feed: Feeder) -> None:
    proto = server()
    assert_failed(proto, feed(proto, build_frame(Opcode.TEXT, b"x")), 1002)


def test_send_frame_streams_a_fragmented_message() -> None:
    proto = server()
    proto.send_frame(Opcode.TEXT, b"ab", fin=False)
    proto.send_frame(Opcode.CONTINUATION, b"c")
    assert sent_frames(proto, from_client=False) == [
        Frame(Opcode.TEXT, b"ab", fin=False),
        Frame(Opcode.CONTINUATION, b"c"),
    ]
    with pytest.raises(LocalProtocolError):
        proto.send_frame(Opcode.PING, b"")


# --------------------------------------------------------------- peer faults


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (client_frame(Opcode.CONTINUATION, b"x"), 1002),
        (
            client_frame(Opcode.TEXT, b"a", fin=False)
            + client_frame(Opcode.TEXT, b"b"),
            1002,
        ),
        (
            client_frame(Opcode.BINARY, b"a", fin=False)
            + client_frame(Opcode.BINARY, b"b"),
            1002,
        ),
        (client_frame(Opcode.TEXT, b"x", rsv1=True), 1002),
        (bytes([0xA1, 0x80]) + KEY, 1002),  # RSV2
        (bytes([0x93, 0x80]) + KEY, 1002),  # RSV3 + reserved opcode
        (bytes([0x83, 0x80]) + KEY, 1002),  # reserved data opcode 3
        (bytes([0x8B, 0x80]) + KEY, 1002),  # reserved control opcode 0xB
        (client_frame(Opcode.PING, b"x", fin=False), 1002),
        (client_frame(Opcode.TEXT, b"\xff"), 1007),
        (client_frame(Opcode.TEXT, b"\xed\xa0\x80"), 1007),  # UTF-16 surrogate
        (
            client_frame(Opcode.TEXT, b"\xe2\x98", fin=False)
            + client_frame(Opcode.CONTINUATION, b""),
            1007,
        ),
        (client_frame(Opcode.CLOSE, b"\x03"), 1002),
        (client_frame(Opcode.CLOSE, close_payload(1000, b"\xff")), 1007),
    ],
    ids=[
        "orphan-continuation",
        "text-in-text",
        "binary-in-binary",
        "rsv1",
        "rsv2",
        "rsv3",
        "opcode-3",
        "opcode-b",
        "fragmented-ping",
        "bad-utf8",
        "surrogate",
        "truncated-utf8-at-end",
        "one-byte-close",
        "close-reason-bad-utf8",
    ],
)
def test_peer_faults_fail_with_the_right_code(
    feed: Feeder, data: bytes, code: int
) -> None:
    proto = server()
    events = feed(proto, data)
    assert_failed(proto, events, code)
    # Nothing after the failure is processed.
    proto.receive_data(client_frame(Opcode.TEXT, b"late"))
    assert proto.events() == []


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
def test_invalid_received_close_codes(feed: Feeder, code: int) -> None:
    proto = server()
    assert_failed(
        proto, feed(proto, client_frame(Opcode.CLOSE, close_payload(code))), 1002
    )


def test_utf8_fails_fast_on_first_invalid_byte_of_unfinished_fragment() -> None:
    proto = server()
    proto.receive_data(client_frame(Opcode.TEXT, b"valid ", fin=False))
    assert proto.events() == []
    # The second fragment's header and its first bad byte, the rest not sent yet.
    frame = client_frame(Opcode.CONTINUATION, b"ok \xf4\x90\x80\x80 and more text")
    proto.receive_data(frame[: 6 + 4])
    assert proto.events() == []  # "ok \xf4" could still be valid
    proto.receive_data(frame[10:11])  # \x90 after \xf4 is out of range
    assert_failed(proto, proto.events(), 1007)


def test_utf8_fails_fast_inside_a_large_frame_collected_in_pieces() -> None:
    text = ("a" * 200_000 + "\udcff" + "b" * 200_000).encode("utf-8", "surrogatepass")
    frame = client_frame(Opcode.TEXT, text)
    proto = server()
    proto.receive_data(frame[:100_000])
    proto.receive_data(frame[100_000:150_000])
    assert proto.events() == []
    # The surrogate at 200,000 is invalid UTF-8: the connection fails there,
    # half a megabyte before the frame would be complete.
    proto.receive_data(frame[150_000:200_020])
    assert_failed(proto, proto.events(), 1007)


def test_a_large_frame_read_into_the_protocol_directly() -> None:
    # receive_buffer()/received_into() are receive_data() without the copy:
    # same messages, same byte count, same fail-fast UTF-8 check.
    payload = bytes(range(256)) * 2000
    wire = client_frame(Opcode.BINARY, payload) + client_frame(Opcode.TEXT, b"hi")
    proto = server()
    assert proto.receive_buffer() is None
    proto.receive_data(wire[:70_000])
    position = 70_000
    while (room := proto.receive_buffer()) is not None:
        with room:
            count = min(len(room), 50_000)
            room[:count] = wire[position : position + count]
        proto.received_into(count)
        position += count
    proto.receive_data(wire[position:])
    assert proto.events() == [BinaryMessage(payload), TextMessage("hi")]
    assert proto.wire_bytes_received == len(wire)

    text = ("a" * 300_000 + "\udcff").encode("utf-8", "surrogatepass")
    wire = client_frame(Opcode.TEXT, text + b"b" * 100_000)
    proto = server()
    proto.receive_data(wire[:COLLECT_MIN])
    while (room := proto.receive_buffer()) is not None:
        with room:
            count = min(len(room), len(wire) - proto.wire_bytes_received, 65536)
            room[:count] = wire[proto.wire_bytes_received :][:count]
        proto.received_into(count)
    # Failed in the read that brought the surrogate, ~70 KB before the
    # frame's end: no more room is offered after that.
    assert proto.wire_bytes_received < len(wire) - 70_000
    assert_failed(proto, proto.events(), 1007)


def test_utf8_fails_fast_inside_a_single_unfinished_frame() -> None:
    proto = server()
    frame = client_frame(Opcode.TEXT, b"\xce\xba\xe1\xbd\xb9\xff" + b"x" * 100)
    proto.receive_data(frame[:14])
    assert_failed(proto, proto.events(), 1007)


def test_partially_validated_frame_still_delivers_the_whole_text() -> None:
    proto = server()
    text = "κόσμε " * 30
    frame = client_frame(Opcode.TEXT, text.encode())
    proto.receive_data(frame[:20])
    proto.receive_data(frame[20:101])
    proto.receive_data(frame[101:])
    assert proto.events() == [TextMessage(text)]


def test_message_size_limit_checked_from_header() -> None:
    proto = Protocol(Role.SERVER, max_message_size=100)
    header = client_frame(Opcode.BINARY, bytes(101))[:8]
    proto.receive_data(header)  # only the header: 101 > 100
    assert_failed(proto, proto.events(), 1009)


def test_message_size_limit_spans_fragments(feed: Feeder) -> None:
    proto = Protocol(Role.SERVER, max_message_size=100)
    data = client_frame(Opcode.BINARY, bytes(60), fin=False) + client_frame(
        Opcode.CONTINUATION, bytes(41)
    )
    assert_failed(proto, feed(proto, data), 1009)


def test_message_at_exactly_the_limit_is_accepted(feed: Feeder) -> None:
    proto = Protocol(Role.SERVER, max_message_size=100)
    data = client_frame(Opcode.BINARY, bytes(60), fin=False) + client_frame(
        Opcode.CONTINUATION, bytes(40)
    )
    assert feed(proto, data) == [BinaryMessage(bytes(100))]


def test_fragment_count_limit() -> None:
    proto = Protocol(Role.SERVER, max_fragments=3)
    data = (
        client_frame(Opcode.BINARY, b"a", fin=False)
        + client_frame(Opcode.CONTINUATION, b"b", fin=False) * 2
        + client_frame(Opcode.CONTINUATION, b"c")
    )
    assert_failed(proto, feed_whole(proto, data), 1009)


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["9.3.1", "9.4.1"])
def test_default_fragment_limit_takes_autobahn_9_3_1_and_9_4_1(opcode: Opcode) -> None:
    # Regression: 4 MiB as wstest sends it, an empty first frame and 65,536
    # continuation frames of 64 bytes, failed with 1009 under the defaults.
    proto = Protocol(Role.SERVER, max_message_size=16 << 20)
    count = (4 << 20) // 64
    data = client_frame(opcode, b"", fin=False) + b"".join(
        client_frame(Opcode.CONTINUATION, b"*" * 64, fin=i == count - 1)
        for i in range(count)
    )
    (message,) = feed_whole(proto, data)
    assert isinstance(message, TextMessage | BinaryMessage)
    assert len(message.data) == 4 << 20
    assert proto.state is State.OPEN


@pytest.mark.parametrize("extra", [0, 1], ids=["at-the-limit", "one-over"])
def test_default_fragment_limit_boundary(extra: int) -> None:
    # Exactly DEFAULT_MAX_FRAGMENTS frames (the first one counts) make one
    # message; one frame more fails with 1009.
    proto = Protocol(Role.SERVER)
    frames = DEFAULT_MAX_FRAGMENTS + extra
    data = (
        client_frame(Opcode.BINARY, b"a", fin=False)
        + client_frame(Opcode.CONTINUATION, b"", fin=False) * (frames - 2)
        + client_frame(Opcode.CONTINUATION, b"z")
    )
    events = feed_whole(proto, data)
    if extra:
        assert_failed(proto, events, 1009)
    else:
        assert events == [BinaryMessage(b"az")]


def test_unlimited_sizes() -> None:
    proto = Protocol(Role.SERVER, max_message_size=None, max_fragments=None)
    data = client_frame(Opcode.BINARY, bytes(3 << 20))
    assert feed_whole(proto, data) == [BinaryMessage(bytes(3 << 20))]


# ----------------------------------------------------------------- closing


def test_peer_initiated_close_is_echoed(feed: Feeder) -> None:
    proto = server()
    events = feed(
        proto, client_frame(Opcode.CLOSE, close_payload(1001, "bye ☃".encode()))
    )
    assert events == [CloseReceived(CloseReason(1001, "bye ☃"))]
    assert sent_frames(proto, from_client=False) == [
        Frame(Opcode.CLOSE, close_payload(1001))
    ]
    assert proto.state is State.CLOSED
    assert proto.close_reason == CloseReason(1001, "bye ☃")


def test_empty_close_is_echoed_empty_and_reported_as_1005(feed: Feeder) -> None:
    proto = server()
    assert feed(proto, client_frame(Opcode.CLOSE)) == [CloseReceived(CloseReason(1005))]
    assert sent_frames(proto, from_client=False) == [Frame(Opcode.CLOSE, b"")]


def test_close_in_the_middle_of_a_fragmented_message(feed: Feeder) -> None:
    proto = server()
    data = client_frame(Opcode.TEXT, b"frag", fin=False) + client_frame(
        Opcode.CLOSE, close_payload(1000)
    )
    assert feed(proto, data) == [CloseReceived(CloseReason(1000))]
    assert proto.error is None


def test_locally_initiated_close_handshake(feed: Feeder) -> None:
    proto = server()
    proto.send_close(4000, "done")
    assert proto.state is State.CLOSING
    assert sent_frames(proto, from_client=False) == [
        Frame(Opcode.CLOSE, close_payload(4000, b"done"))
    ]
    # Data may still arrive before the peer's close; no pong after our close.
    data = client_frame(Opcode.TEXT, b"late") + client_frame(Opcode.PING, b"")
    data += client_frame(Opcode.CLOSE, close_payload(4000))
    assert feed(proto, data) == [
        TextMessage("late"),
        Ping(b""),
        CloseReceived(CloseReason(4000)),
    ]
    assert proto.data_to_send() == b""  # no echo: we closed first
    assert proto.state is State.CLOSED


def test_eof_before_close_is_abnormal() -> None:
    proto = server()
    proto.receive_data(b"")
    assert proto.events() == [ConnectionLost()]
    assert proto.close_reason == CloseReason(1006)


def test_send_close_validation() -> None:
    proto = server()
    for code in (1004, 1005, 1006, 1015, 999, 2999, 5000):
        with pytest.raises(LocalProtocolError, match="may not be sent"):
            proto.send_close(code)
    with pytest.raises(LocalProtocolError, match="123"):
        proto.send_close(1000, "é" * 62)  # 124 bytes
    with pytest.raises(LocalProtocolError, match="needs a close code"):
        proto.send_close(None, "why")
    assert proto.state is State.OPEN
    proto.send_close(1000, "x" * 123)
    assert proto.state is State.CLOSING


def test_send_close_without_code() -> None:
    proto = server()
    proto.send_close(None)
    assert sent_frames(proto, from_client=False) == [Frame(Opcode.CLOSE, b"")]
    assert proto.close_sent == CloseReason(1005)


def test_control_payload_limit_on_send() -> None:
    proto = server()
    with pytest.raises(LocalProtocolError, match="125"):
        proto.send_ping(bytes(126))
    with pytest.raises(LocalProtocolError, match="125"):
        proto.send_pong(bytes(126))
    proto.send_ping(bytes(125))
    proto.send_pong(b"u")
    assert [f.opcode for f in sent_frames(proto, from_client=False)] == [
        Opcode.PING,
        Opcode.PONG,
    ]


# --------------------------------------------------- walking the state table

COMMANDS: dict[str, Callable[[Protocol], None]] = {
    "send_text": lambda p: p.send_text("x"),
    "send_binary": lambda p: p.send_binary(b"x"),
    "send_ping": lambda p: p.send_ping(b""),
    "send_pong": lambda p: p.send_pong(b""),
    "send_close": lambda p: p.send_close(1000),
}


def protocol_in(state: State) -> Protocol:
    proto = server()
    if state is State.CLOSING:
        proto.send_close(1000)
    elif state is State.CLOSED:
        proto.receive_data(client_frame(Opcode.CLOSE, close_payload(1000)))
    proto.data_to_send()
    proto.events()
    assert proto.state is state
    return proto


INPUTS: dict[_Input, Callable[[Protocol], None]] = {
    _Input.SEND_CLOSE: lambda p: p.send_close(1000),
    _Input.RECEIVE_CLOSE: lambda p: p.receive_data(
        client_frame(Opcode.CLOSE, close_payload(1000))
    ),
    _Input.FAIL: lambda p: p.receive_data(client_frame(Opcode.CONTINUATION, b"x")),
    _Input.EOF: lambda p: p.receive_data(b""),
}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("what", list(_Input))
def test_every_cell_of_the_transition_table(state: State, what: _Input) -> None:
    proto = protocol_in(state)
    expected = TRANSITIONS[state].get(what)
    if expected is None:
        if what is _Input.SEND_CLOSE:
            with pytest.raises(LocalProtocolError):
                INPUTS[what](proto)
        else:
            INPUTS[what](proto)  # peer input after CLOSED is ignored
            assert proto.events() == []
        assert proto.state is state
    else:
        INPUTS[what](proto)
        assert proto.state is expected


@pytest.mark.parametrize("state", [State.CLOSING, State.CLOSED])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_sending_is_refused_unless_open(state: State, command: str) -> None:
    proto = protocol_in(state)
    with pytest.raises(LocalProtocolError):
        COMMANDS[command](proto)
    assert proto.data_to_send() == b""


def test_deferred_failure_waits_for_fail_pending() -> None:
    proto = Protocol(Role.SERVER, defer_failure=True)
    proto.receive_data(
        client_frame(Opcode.TEXT, b"before") + client_frame(Opcode.CONTINUATION, b"x")
    )
    assert proto.events() == [TextMessage("before")]
    assert proto.pending_failure is not None
    assert proto.state is State.OPEN
    proto.receive_data(client_frame(Opcode.TEXT, b"ignored"))
    assert proto.events() == []
    proto.send_text("reply")  # still allowed: replies precede the close frame
    proto.fail_pending()
    events = proto.events()
    assert_failed(proto, events, 1002)


def test_deferred_failure_orders_reply_before_close() -> None:
    proto = Protocol(Role.SERVER, defer_failure=True)
    proto.receive_data(client_frame(Opcode.CONTINUATION, b"x"))
    proto.send_text("reply")
    proto.fail_pending()
    frames = sent_frames(proto, from_client=False)
    assert [f.opcode for f in frames] == [Opcode.TEXT, Opcode.CLOSE]
    assert proto.pending_failure is None
    proto.fail_pending()  # no-op now
    assert proto.data_to_send() == b""
