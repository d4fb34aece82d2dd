"""Floods fed to the sans-I/O core: memory and work stay bounded, the code is right.

Each flood is fed the way the I/O layer feeds it (reads of 64 KiB) and, at a
smaller scale, one byte at a time. Peak memory is measured with tracemalloc
around the feeding only (the flood's bytes are built before), and compared
with a bound, never timed.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from trio_ws._core._events import (
    BinaryMessage,
    Event,
    Ping,
    ProtocolFailure,
    TextMessage,
)
from trio_ws._core._frames import Frame, FrameParser, Opcode, build_frame
from trio_ws._core._protocol import (
    DEFAULT_MAX_FRAGMENTS,
    MAX_UNSENT_PONGS,
    Protocol,
    Role,
    State,
)

from .test_protocol import sent_frames

KEY = b"\x11\x22\x33\x44"
READ_SIZE = 1 << 16  # what the I/O layer reads at a time (DEFAULT_RECEIVE_SIZE)


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    return build_frame(opcode, payload, fin=fin, mask_key=KEY)


def feed_reads(proto: Protocol, data: bytes, size: int = READ_SIZE) -> list[Event]:
    """Feed ``data`` in reads of ``size`` bytes; keep only the non-Ping events
    (a flood of pings makes as many Ping events, which the I/O layer drops)."""
    events: list[Event] = []
    view = memoryview(data)
    for start in range(0, len(data), size):
        proto.receive_data(view[start : start + size])
        events.extend(e for e in proto.events() if not isinstance(e, Ping))
    return events


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Measure the peak of traced allocations inside the block."""
    tracemalloc.start()
    peak = 0
    try:
        yield lambda: peak
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def assert_failed_with(proto: Protocol, events: list[Event], code: int) -> None:
    assert proto.state is State.CLOSED
    assert isinstance(events[-1], ProtocolFailure)
    assert events[-1].error.close_code == code
    close = sent_frames(proto)[-1]
    assert close.opcode is Opcode.CLOSE
    assert struct.unpack("!H", close.payload[:2])[0] == code


# ------------------------------------------------ empty continuation frames


def test_200k_empty_continuation_frames_fail_with_1009() -> None:
    # An endless message of empty frames: no size limit is ever reached, the
    # fragment limit is (131,072 frames, the first included). Memory is not
    # at stake (nothing accumulates); parsing stops at the limit.
    proto = Protocol(Role.SERVER)
    data = (
        client_frame(Opcode.BINARY, b"", fin=False)
        + client_frame(Opcode.CONTINUATION, b"", fin=False) * 200_000
    )
    events = feed_reads(proto, data)
    assert_failed_with(proto, events, 1009)
    assert proto.frames_received == DEFAULT_MAX_FRAGMENTS + 1  # the rest ignored


def test_empty_continuation_flood_fed_one_byte_at_a_time() -> None:
    proto = Protocol(Role.SERVER, max_fragments=1000)
    data = (
        client_frame(Opcode.TEXT, b"", fin=False)
        + client_frame(Opcode.CONTINUATION, b"", fin=False) * 2000
    )
    events = feed_reads(proto, data, size=1)
    assert_failed_with(proto, events, 1009)
    assert proto.frames_received == 1001


# -------------------------------------------------------------- ping floods


def ping_flood(count: int) -> tuple[list[bytes], bytes]:
    pings = [i.to_bytes(4, "big") + bytes(121) for i in range(count)]
    return pings, b"".join(client_frame(Opcode.PING, payload) for payload in pings)


def test_100k_pings_while_pongs_are_not_sent_keep_the_buffer_bounded() -> None:
    # The peer floods pings and never reads, so the I/O layer cannot write:
    # data_to_send() is never called. Each ping used to add a pong (12.7 MB
    # for 100k pings of 125 bytes); now at most MAX_UNSENT_PONGS wait.
    proto = Protocol(Role.SERVER)
    pings, data = ping_flood(100_000)
    assert feed_reads(proto, data) == []
    assert proto.state is State.OPEN
    assert proto.bytes_to_send <= MAX_UNSENT_PONGS * (2 + 125)
    frames = sent_frames(proto)
    assert [f.opcode for f in frames] == [Opcode.PONG] * MAX_UNSENT_PONGS
    # RFC 6455 5.5.3: the first pongs answer the first pings, the last one
    # answers the most recent ping (it replaced the unsent ones between).
    assert [f.payload for f in frames[:-1]] == pings[: MAX_UNSENT_PONGS - 1]
    assert frames[-1].payload == pings[-1]


def test_ping_flood_peak_memory() -> None:
    # tracemalloc slows parsing ~10x: 20k pings (2.5 MB of pongs, had they
    # piled up) show the bound as well as 100k.
    proto = Protocol(Role.SERVER)
    _, data = ping_flood(20_000)
    with peak_memory() as peak:
        feed_reads(proto, data)
    assert peak() < 512 << 10, peak()


def test_every_ping_of_a_burst_gets_its_pong() -> None:
    # Autobahn 2.10: 10 pings in one read, 10 pongs, in order.
    proto = Protocol(Role.SERVER)
    payloads = [b"payload-%d" % i for i in range(10)]
    feed_reads(proto, b"".join(client_frame(Opcode.PING, p) for p in payloads))
    assert [f.payload for f in sent_frames(proto)] == payloads


def test_pongs_are_counted_afresh_once_written() -> None:
    proto = Protocol(Role.SERVER)
    ping = client_frame(Opcode.PING, b"a")
    for _ in range(3):
        feed_reads(proto, ping * MAX_UNSENT_PONGS)
        assert len(sent_frames(proto)) == MAX_UNSENT_PONGS


def test_coalesced_pong_keeps_the_frames_around_it_in_order() -> None:
    # A message sent while pongs wait stays where it was; only the last
    # pong's payload changes, and the byte count stays exact.
    proto = Protocol(Role.SERVER)
    feed_reads(proto, client_frame(Opcode.PING, b"0") * (MAX_UNSENT_PONGS - 1))
    feed_reads(proto, client_frame(Opcode.PING, b"last-counted"))
    proto.send_binary(b"data")
    feed_reads(proto, client_frame(Opcode.PING, b"newest"))
    size = proto.bytes_to_send
    wire = proto.data_to_send()
    assert len(wire) == size
    parser = FrameParser(expect_masked=False)
    parser.feed(wire)
    frames = []
    while (frame := parser.next_frame()) is not None:
        frames.append(frame)
    assert frames[-2] == Frame(Opcode.PONG, b"newest")
    assert frames[-1] == Frame(Opcode.BINARY, b"data")


def test_client_coalesced_pong_is_masked() -> None:
    proto = Protocol(Role.CLIENT)
    server_ping = build_frame(Opcode.PING, b"x")
    feed_reads(proto, server_ping * MAX_UNSENT_PONGS + build_frame(Opcode.PING, b"y"))
    frames = sent_frames(proto, from_client=True)  # the parser checks the mask
    assert len(frames) == MAX_UNSENT_PONGS
    assert frames[-1].payload == b"y"


def test_ping_flood_fed_one_byte_at_a_time() -> None:
    proto = Protocol(Role.SERVER)
    count = MAX_UNSENT_PONGS * 3
    data = b"".join(client_frame(Opcode.PING, b"%d" % i) for i in range(count))
    feed_reads(proto, data, size=1)
    frames = sent_frames(proto)
    assert len(frames) == MAX_UNSENT_PONGS
    assert frames[-1].payload == b"%d" % (count - 1)


# ---------------------------------------------------- 1-byte fragments


def fragmented(opcode: Opcode, unit: bytes, count: int) -> bytes:
    """A message of ``count`` frames of ``unit`` each."""
    return (
        client_frame(opcode, unit, fin=False)
        + client_frame(Opcode.CONTINUATION, unit, fin=False) * (count - 2)
        + client_frame(Opcode.CONTINUATION, unit)
    )


@pytest.mark.parametrize(
    ("opcode", "unit"),
    [(Opcode.BINARY, b"a"), (Opcode.TEXT, b"a"), (Opcode.TEXT, "語".encode())],
    ids=["binary", "ascii-text", "cjk-text"],
)
def test_one_byte_fragments_at_full_speed(opcode: Opcode, unit: bytes) -> None:
    # The largest message the fragment limit allows, in the smallest pieces
    # (for CJK text a character, three bytes, per frame); one frame more
    # fails with 1009.
    count = DEFAULT_MAX_FRAGMENTS
    proto = Protocol(Role.SERVER)
    (message,) = feed_reads(proto, fragmented(opcode, unit, count))
    assert isinstance(message, TextMessage | BinaryMessage)
    assert message.data == (unit.decode() if opcode is Opcode.TEXT else unit) * count
    proto = Protocol(Role.SERVER)
    events = feed_reads(proto, fragmented(opcode, unit, count + 1))
    assert_failed_with(proto, events, 1009)


def test_text_in_one_character_fragments_peak_memory() -> None:
    # As a list of one decoded piece per frame, 393 KB of CJK text in
    # 131,072 frames took 11 MB (~87 bytes a frame); the assembler now joins
    # the pieces as it goes. A quarter of that (tracemalloc is slow) shows
    # it: 2.8 MB before, a few hundred KB now.
    count = DEFAULT_MAX_FRAGMENTS // 4
    data = fragmented(Opcode.TEXT, "語".encode(), count)
    proto = Protocol(Role.SERVER)
    with peak_memory() as peak:
        (message,) = feed_reads(proto, data)
        assert isinstance(message, TextMessage)
        assert len(message.data) == count
        del message
    # The 98 KB message (as str: 2 bytes a character), a copy while joining,
    # and a read of 64 KiB.
    assert peak() < 1 << 20, peak()


def test_text_joined_in_pieces_is_exact() -> None:
    # Joining every 64 pieces must not reorder or lose any character, also
    # when a character is split across fragments.
    text = "".join(chr(0x20 + (i * 7919) % 0x2FFF) for i in range(5000))
    encoded = text.encode()
    pieces = [encoded[i : i + 1] for i in range(len(encoded))]
    data = (
        client_frame(Opcode.TEXT, pieces[0], fin=False)
        + b"".join(client_frame(Opcode.CONTINUATION, p, fin=False) for p in pieces[1:])
        + client_frame(Opcode.CONTINUATION, b"")
    )
    proto = Protocol(Role.SERVER, max_fragments=None)
    assert feed_reads(proto, data) == [TextMessage(text)]
    assert feed_reads(Protocol(Role.SERVER, max_fragments=None), data, size=7) == [
        TextMessage(text)
    ]


def test_fragment_flood_of_binary_is_bytes() -> None:
    proto = Protocol(Role.SERVER)
    data = client_frame(Opcode.BINARY, b"x", fin=False) + client_frame(
        Opcode.CONTINUATION, b"y"
    )
    assert feed_reads(proto, data, size=1) == [BinaryMessage(b"xy")]
