"""Legacy draft-76 framing: 0x00 text 0xFF, 0xFF 0x00, limits, garbage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws import LocalProtocolError
from trio_ws._core._events import (
    CloseReason,
    CloseReceived,
    ConnectionLost,
    Event,
    ProtocolFailure,
    TextMessage,
)
from trio_ws._core._hixie76_protocol import CLOSE_FRAME, Hixie76Protocol
from trio_ws._core._interface import ProtocolLike
from trio_ws._core._protocol import Protocol, Role, State

Feeder = Callable[[Hixie76Protocol, bytes], list[Event]]


def feed_whole(proto: Hixie76Protocol, data: bytes) -> list[Event]:
    proto.receive_data(data)
    return proto.events()


def feed_bytewise(proto: Hixie76Protocol, data: bytes) -> list[Event]:
    events: list[Event] = []
    for i in range(len(data)):
        proto.receive_data(data[i : i + 1])
        events.extend(proto.events())
    return events


feeders = pytest.mark.parametrize(
    "feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"]
)


def text(message: str) -> bytes:
    return b"\x00" + message.encode() + b"\xff"


def test_both_protocols_provide_the_interface() -> None:
    # mypy checks these assignments; the asserts check the runtime names.
    protocols: list[ProtocolLike] = [
        Protocol(Role.SERVER),
        Hixie76Protocol(Role.SERVER),
    ]
    for proto in protocols:
        assert proto.state is State.OPEN
        assert proto.role is Role.SERVER


# --- Text messages ------------------------------------------------------------------


@feeders
def test_text_messages(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    events = feed(proto, text("hello") + text("") + text("héllo ☃ 𝄞"))
    assert events == [TextMessage("hello"), TextMessage(""), TextMessage("héllo ☃ 𝄞")]
    assert proto.data_to_send() == b""
    assert proto.state is State.OPEN


def test_send_text_framing() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    proto.send_text("hi ☃")
    proto.send_text("")
    assert proto.has_data_to_send
    assert proto.bytes_to_send == 1 + 6 + 1 + 2
    assert proto.data_to_send() == b"\x00hi \xe2\x98\x83\xff\x00\xff"
    assert not proto.has_data_to_send
    assert proto.bytes_to_send == 0


def test_a_message_split_across_reads_keeps_multibyte_characters() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    data = text("a☃b")  # ☃ is 3 bytes: split inside it
    proto.receive_data(data[:3])
    assert proto.events() == []
    proto.receive_data(data[3:])
    assert proto.events() == [TextMessage("a☃b")]


# --- Size limit -----------------------------------------------------------------------


@feeders
def test_message_at_the_limit_is_accepted(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=10)
    assert feed(proto, text("x" * 10)) == [TextMessage("x" * 10)]


@feeders
def test_message_over_the_limit_fails_with_1009(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=10)
    # No closing 0xFF: the limit triggers on the 11th byte, not at the end.
    events = feed(proto, b"\x00" + b"x" * 11)
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailure)
    assert events[0].error.close_code == 1009
    assert proto.state is State.CLOSED
    assert proto.close_reason == CloseReason(1009)
    # draft-76 fails a connection by closing TCP: nothing is sent.
    assert proto.data_to_send() == b""
    # Later input is ignored.
    proto.receive_data(text("late"))
    assert proto.events() == []


def test_oversized_message_is_not_buffered() -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=1000)
    proto.receive_data(b"\x00" + b"x" * 1000)
    assert proto.events() == []
    assert sum(map(len, proto._parts)) == 1000
    proto.receive_data(b"y")
    [failure] = proto.events()
    assert isinstance(failure, ProtocolFailure)
    assert proto._parts == []


def test_no_limit() -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=None)
    big = "z" * (3 * 2**20)
    assert feed_whole(proto, text(big)) == [TextMessage(big)]


# --- UTF-8 ----------------------------------------------------------------------------


@feeders
@pytest.mark.parametrize(
    "payload",
    [
        b"\xc3\x28",  # bad continuation
        b"\xed\xa0\x80",  # a surrogate
        b"\xe2\x98",  # ends inside a character
        b"\xfe",  # never valid in UTF-8
        b"\xf4\x90\x80\x80",  # over U+10FFFF
    ],
)
def test_invalid_utf8_fails_with_1007(feed: Feeder, payload: bytes) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    events = feed(proto, text("ok") + b"\x00" + payload + b"\xff" + text("never"))
    assert events[0] == TextMessage("ok")
    assert isinstance(events[1], ProtocolFailure)
    assert events[1].error.close_code == 1007
    assert len(events) == 2
    assert proto.close_reason == CloseReason(1007)
    assert proto.data_to_send() == b""


def test_invalid_utf8_fails_before_the_frame_ends() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    proto.receive_data(b"\x00abc\xc3\x28")  # no 0xFF yet
    [failure] = proto.events()
    assert isinstance(failure, ProtocolFailure)


# --- Closing handshake ------------------------------------------------------------


@feeders
def test_peer_starts_the_closing_handshake(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    events = feed(proto, text("last") + CLOSE_FRAME + text("ignored"))
    assert events == [TextMessage("last"), CloseReceived(CloseReason(1000))]
    assert proto.data_to_send() == CLOSE_FRAME  # answered at once
    assert proto.state is State.CLOSED
    assert proto.close_reason == CloseReason(1000)
    assert proto.close_sent == CloseReason(1000)
    with pytest.raises(LocalProtocolError, match="closed"):
        proto.send_text("too late")


@feeders
def test_we_start_the_closing_handshake(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    proto.send_close(1001, "bye")
    assert proto.data_to_send() == CLOSE_FRAME  # no code on the wire
    assert proto.state is State.CLOSING
    assert proto.close_sent == CloseReason(1001, "bye")
    assert proto.close_reason is None
    with pytest.raises(LocalProtocolError, match="closing"):
        proto.send_text("no")
    with pytest.raises(LocalProtocolError, match="closing"):
        proto.send_close()
    # Messages still arrive until the peer's answer.
    events = feed(proto, text("in flight") + CLOSE_FRAME)
    assert events == [TextMessage("in flight"), CloseReceived(CloseReason(1000))]
    assert proto.data_to_send() == b""  # no second close frame
    assert proto.state is State.CLOSED
    assert proto.close_reason == CloseReason(1000)


def test_send_close_checks_code_and_reason_like_rfc_6455() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    with pytest.raises(LocalProtocolError, match="1005"):
        proto.send_close(1005)
    with pytest.raises(LocalProtocolError, match="needs a close code"):
        proto.send_close(None, "why")
    with pytest.raises(LocalProtocolError, match="123"):
        proto.send_close(1000, "x" * 124)
    assert proto.state is State.OPEN
    assert not proto.has_data_to_send
    proto.send_close(None)
    assert proto.close_sent == CloseReason(1005)
    assert proto.data_to_send() == CLOSE_FRAME


@feeders
def test_eof(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    events = feed(proto, text("a") + b"\x00partial")
    proto.receive_data(b"")
    events += proto.events()
    assert events == [TextMessage("a"), ConnectionLost()]
    assert proto.close_reason == CloseReason(1006)


# --- Other frame types: read and discarded ---------------------------------------


@feeders
@pytest.mark.parametrize(
    "frame",
    [
        b"\x01ignored\xff",  # another sentinel frame type
        b"\x7f\xfe\xff",  # ... whose bytes need not be UTF-8
        b"\x80\x03abc",  # length-prefixed, 3 bytes
        b"\xff\x03abc",  # 0xFF with a length is not a close
        b"\x80\x00",  # length-prefixed, empty
        b"\x80\x81\x00" + b"q" * 128,  # two length bytes: 1 * 128 + 0
    ],
)
def test_other_frames_are_discarded(feed: Feeder, frame: bytes) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    events = feed(proto, text("a") + frame + text("b"))
    assert events == [TextMessage("a"), TextMessage("b")]
    assert proto.state is State.OPEN


def test_close_with_a_redundant_length_byte_is_still_a_close() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    assert feed_whole(proto, b"\xff\x80\x00") == [CloseReceived(CloseReason(1000))]


@feeders
def test_discarded_frames_count_against_the_limit(feed: Feeder) -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=100)
    assert feed(proto, b"\x80\x64" + b"q" * 100 + text("ok")) == [TextMessage("ok")]
    events = feed(proto, b"\x80\x65")  # 101: refused from the length alone
    assert [type(e) for e in events] == [ProtocolFailure]
    proto = Hixie76Protocol(Role.SERVER, max_message_size=100)
    events = feed(proto, b"\x05" + b"q" * 101)
    assert [type(e) for e in events] == [ProtocolFailure]


def test_endless_length_bytes_fail_without_a_limit() -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=None)
    proto.receive_data(b"\x80" + b"\xff" * 20)  # 140 bits of length
    [failure] = proto.events()
    assert isinstance(failure, ProtocolFailure)
    assert failure.error.close_code == 1009
    assert proto._length.bit_length() <= 70  # stopped as soon as it was too big


# --- What draft-76 cannot send ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.send_binary(b"x"), "binary"),
        (lambda p: p.send_ping(b"x"), "no pings"),
        (lambda p: p.send_pong(), "no pongs"),
        (lambda p: p.send_fragment("x", final=False), "fragments"),
        (lambda p: p.choose_message_mode(stream=True), "no fragmented message"),
    ],
)
def test_unsupported_commands_raise(
    call: Callable[[Hixie76Protocol], None], message: str
) -> None:
    proto = Hixie76Protocol(Role.SERVER)
    with pytest.raises(LocalProtocolError, match=message):
        call(proto)
    assert proto.state is State.OPEN
    assert not proto.has_data_to_send
    assert not proto.sending_fragments


def test_statistics_counters() -> None:
    proto = Hixie76Protocol(Role.SERVER)
    incoming = text("héllo") + b"\x80\x02ab" + b"\x01zz\xff" + text("") + CLOSE_FRAME
    proto.send_text("ok")
    proto.receive_data(incoming[:4])
    proto.receive_data(incoming[4:])
    assert [type(e) for e in proto.events()] == [
        TextMessage,
        TextMessage,
        CloseReceived,
    ]
    assert proto.wire_bytes_received == len(incoming)
    assert proto.frames_received == 5  # two discarded frames and the close count
    assert proto.messages_received == 2
    assert proto.bytes_received == len("héllo".encode())
    out = proto.data_to_send()
    assert out == text("ok") + CLOSE_FRAME
    assert proto.wire_bytes_sent == len(out)
    assert (proto.frames_sent, proto.messages_sent, proto.bytes_sent) == (2, 1, 2)


# --- Deferred failure --------------------------------------------------------------


def test_deferred_failure() -> None:
    proto = Hixie76Protocol(Role.SERVER, defer_failure=True, max_message_size=4)
    proto.receive_data(text("ok") + b"\x00toolong\xff" + text("x"))
    assert proto.events() == [TextMessage("ok")]
    assert proto.pending_failure is not None
    assert proto.state is State.OPEN
    proto.send_text("reply")  # the application can still answer
    proto.receive_data(text("ignored"))
    assert proto.events() == []
    proto.fail_pending()
    [failure] = proto.events()
    assert isinstance(failure, ProtocolFailure)
    assert proto.error is failure.error
    assert proto.pending_failure is None
    assert proto.close_reason == CloseReason(1009)
    assert proto.data_to_send() == text("reply")
    proto.fail_pending()  # idempotent
    assert proto.events() == []


# --- Hypothesis --------------------------------------------------------------------

# Valid streams: 16 characters are at most 64 bytes, run()'s limit.
frames = st.one_of(
    st.text(max_size=16).map(text),
    st.binary(max_size=30).map(lambda b: b"\x80" + bytes([len(b)]) + b),
    st.binary(max_size=30)
    .filter(lambda b: b"\xff" not in b)
    .map(lambda b: b"\x01" + b + b"\xff"),
)
streams = st.lists(frames, max_size=8).map(b"".join)


def run(chunks: list[bytes]) -> tuple[list[Event], bytes, State]:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=64)
    events: list[Event] = []
    out = b""
    for chunk in chunks:
        proto.receive_data(chunk)
        events.extend(proto.events())
        out += proto.data_to_send()
    return events, out, proto.state


@given(streams, st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_split_gives_the_same_events(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [
        data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)
    ]
    assert run([c for c in chunks if c]) == run([data] if data else [])


@given(st.lists(st.text(max_size=16), max_size=10))  # 16 characters <= 64 bytes
def test_round_trip(messages: list[str]) -> None:
    sender = Hixie76Protocol(Role.CLIENT)
    for message in messages:
        sender.send_text(message)
    sender.send_close()
    events, out, state = run([sender.data_to_send()])
    assert events == [
        *(TextMessage(message) for message in messages),
        CloseReceived(CloseReason(1000)),
    ]
    assert out == CLOSE_FRAME
    assert state is State.CLOSED


@given(st.lists(st.binary(max_size=50), max_size=10))
def test_garbage_never_raises(chunks: list[bytes]) -> None:
    proto = Hixie76Protocol(Role.SERVER, max_message_size=64)
    for chunk in chunks:
        proto.receive_data(chunk)
        for event in proto.events():
            assert isinstance(
                event, TextMessage | CloseReceived | ProtocolFailure | ConnectionLost
            )
        out = proto.data_to_send()
        assert out in (b"", CLOSE_FRAME)
    if proto.state is State.CLOSED:
        assert proto.close_reason is not None
