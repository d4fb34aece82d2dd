import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws import RemoteProtocolError
from trio_ws._core import IMPLEMENTATION
from trio_ws._core._frames import (
    COLLECT_MIN,
    Frame,
    FrameParser,
    Opcode,
    PendingFrame,
    build_frame,
    is_sendable_close_code,
)

KEY = bytes.fromhex("37fa213d")

# RFC 6455 5.7 examples, byte for byte.
RFC_UNMASKED_HELLO = bytes.fromhex("810548656c6c6f")
RFC_MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
RFC_FRAGMENT_1 = bytes.fromhex("010348656c")
RFC_FRAGMENT_2 = bytes.fromhex("80026c6f")
RFC_UNMASKED_PING = bytes.fromhex("890548656c6c6f")
RFC_MASKED_PONG = bytes.fromhex("8a8537fa213d7f9f4d5158")


def parse_all(data: bytes, *, masked: bool, split: bool = False) -> list[Frame]:
    parser = FrameParser(expect_masked=masked)
    frames: list[Frame] = []
    chunks = [data[i : i + 1] for i in range(len(data))] if split else [data]
    for chunk in chunks:
        parser.feed(chunk)
        while (frame := parser.next_frame()) is not None:
            frames.append(frame)
    assert parser.buffered == 0
    return frames


@pytest.mark.parametrize("split", [False, True], ids=["whole", "bytewise"])
class TestRfcExamples:
    def test_unmasked_text(self, split: bool) -> None:
        assert parse_all(RFC_UNMASKED_HELLO, masked=False, split=split) == [
            Frame(Opcode.TEXT, b"Hello")
        ]

    def test_masked_text(self, split: bool) -> None:
        assert parse_all(RFC_MASKED_HELLO, masked=True, split=split) == [
            Frame(Opcode.TEXT, b"Hello")
        ]

    def test_fragmented_text(self, split: bool) -> None:
        frames = parse_all(RFC_FRAGMENT_1 + RFC_FRAGMENT_2, masked=False, split=split)
        assert frames == [
            Frame(Opcode.TEXT, b"Hel", fin=False),
            Frame(Opcode.CONTINUATION, b"lo"),
        ]

    def test_ping_and_masked_pong(self, split: bool) -> None:
        assert parse_all(RFC_UNMASKED_PING, masked=False, split=split) == [
            Frame(Opcode.PING, b"Hello")
        ]
        assert parse_all(RFC_MASKED_PONG, masked=True, split=split) == [
            Frame(Opcode.PONG, b"Hello")
        ]

    def test_256_byte_binary(self, split: bool) -> None:
        payload = bytes(range(256))
        wire = bytes.fromhex("827e0100") + payload
        assert parse_all(wire, masked=False, split=split) == [
            Frame(Opcode.BINARY, payload)
        ]

    def test_64k_binary(self, split: bool) -> None:
        payload = bytes(65536)
        wire = bytes.fromhex("827f0000000000010000") + payload
        if split:  # one byte at a time over the header, then the rest
            parser = FrameParser(expect_masked=False)
            for b in wire[:10]:
                parser.feed(bytes([b]))
                assert parser.next_frame() is None
            parser.feed(wire[10:])
            frames = [parser.next_frame()]
        else:
            frames = list(parse_all(wire, masked=False))
        assert frames == [Frame(Opcode.BINARY, payload)]


class TestSerializer:
    def test_rfc_bytes(self) -> None:
        assert build_frame(Opcode.TEXT, b"Hello") == RFC_UNMASKED_HELLO
        assert build_frame(Opcode.TEXT, b"Hello", mask_key=KEY) == RFC_MASKED_HELLO
        assert build_frame(Opcode.TEXT, b"Hel", fin=False) == RFC_FRAGMENT_1
        assert build_frame(Opcode.CONTINUATION, b"lo") == RFC_FRAGMENT_2
        assert build_frame(Opcode.PING, b"Hello") == RFC_UNMASKED_PING
        assert build_frame(Opcode.PONG, b"Hello", mask_key=KEY) == RFC_MASKED_PONG
        assert build_frame(Opcode.BINARY, bytes(256))[:4] == bytes.fromhex("827e0100")
        assert build_frame(Opcode.BINARY, bytes(65536))[:10] == bytes.fromhex(
            "827f0000000000010000"
        )

    @pytest.mark.parametrize(
        ("length", "header_len", "marker"),
        [(0, 2, 0), (125, 2, 125), (126, 4, 126), (65535, 4, 126), (65536, 10, 127)],
    )
    def test_length_encodings_are_minimal_and_exact(
        self, length: int, header_len: int, marker: int
    ) -> None:
        wire = build_frame(Opcode.BINARY, b"x" * length)
        assert len(wire) == header_len + length
        assert wire[1] & 0x7F == marker
        if marker == 126:
            assert struct.unpack("!H", wire[2:4])[0] == length
        elif marker == 127:
            assert struct.unpack("!Q", wire[2:10])[0] == length

    def test_rsv1_bit(self) -> None:
        assert build_frame(Opcode.TEXT, b"", rsv1=True)[0] == 0xC1


@given(
    opcode=st.sampled_from([Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY]),
    payload=st.binary(max_size=70000),
    fin=st.booleans(),
    masked=st.booleans(),
    key=st.binary(min_size=4, max_size=4),
)
def test_data_frame_round_trip(
    opcode: Opcode, payload: bytes, fin: bool, masked: bool, key: bytes
) -> None:
    wire = build_frame(opcode, payload, fin=fin, mask_key=key if masked else None)
    assert parse_all(wire, masked=masked) == [Frame(opcode, payload, fin=fin)]


@given(
    opcode=st.sampled_from([Opcode.CLOSE, Opcode.PING, Opcode.PONG]),
    payload=st.binary(max_size=125),
    masked=st.booleans(),
)
def test_control_frame_round_trip(opcode: Opcode, payload: bytes, masked: bool) -> None:
    wire = build_frame(opcode, payload, mask_key=KEY if masked else None)
    assert parse_all(wire, masked=masked, split=True) == [Frame(opcode, payload)]


def test_non_minimal_lengths_are_accepted() -> None:
    # A 5-byte payload announced with a 16-bit and with a 64-bit length.
    for header in (bytes.fromhex("827e0005"), bytes.fromhex("827f0000000000000005")):
        assert parse_all(header + b"abcde", masked=False) == [
            Frame(Opcode.BINARY, b"abcde")
        ]


def test_rsv_bits_are_reported() -> None:
    frames = parse_all(bytes([0xF2, 0x00]), masked=False)
    assert frames == [Frame(Opcode.BINARY, b"", rsv1=True, rsv2=True, rsv3=True)]


def expect_error(
    wire: bytes, *, masked: bool, code: int, limit: int | None = None
) -> str:
    parser = FrameParser(expect_masked=masked)
    parser.feed(wire)
    with pytest.raises(RemoteProtocolError) as info:
        parser.next_frame(limit)
    assert info.value.close_code == code
    return str(info.value)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes(opcode: int) -> None:
    assert "reserved opcode" in expect_error(
        bytes([0x80 | opcode, 0]), masked=False, code=1002
    )


def test_64_bit_length_msb_set() -> None:
    wire = bytes([0x82, 127]) + struct.pack("!Q", 1 << 63)
    assert "MSB" in expect_error(wire, masked=False, code=1002)


def test_masking_direction() -> None:
    assert "masked" in expect_error(RFC_MASKED_HELLO, masked=False, code=1002)
    assert "unmasked" in expect_error(RFC_UNMASKED_HELLO, masked=True, code=1002)


def test_control_frame_too_long() -> None:
    wire = bytes([0x89, 126]) + struct.pack("!H", 126) + bytes(126)
    assert "limit 125" in expect_error(wire, masked=False, code=1002)


def test_fragmented_control_frame() -> None:
    assert "fragmented" in expect_error(bytes([0x09, 0]), masked=False, code=1002)


def test_limit_checked_from_header_before_payload_arrives() -> None:
    header = bytes([0x82, 127]) + struct.pack("!Q", 1 << 40)  # 1 TiB announced
    assert "size limit" in expect_error(header, masked=False, code=1009, limit=1 << 20)


def test_pending_and_peek_unmask_at_any_offset() -> None:
    payload = bytes(range(50))
    wire = build_frame(Opcode.TEXT, payload, mask_key=KEY)
    parser = FrameParser(expect_masked=True)
    parser.feed(wire[:20])  # 6 header bytes + 14 payload bytes
    assert parser.next_frame() is None
    pending = parser.pending()
    assert pending is not None
    assert (pending.opcode, pending.fin, pending.length) == (Opcode.TEXT, True, 50)
    assert parser.peek_payload(0) == payload[:14]
    assert parser.peek_payload(5) == payload[5:14]
    parser.feed(wire[20:])
    assert parser.next_frame() == Frame(Opcode.TEXT, payload)
    assert parser.pending() is None


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        (999, False),
        (1000, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1011, True),
        (1014, True),
        (1015, False),
        (1016, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_sendable_close_codes(code: int, ok: bool) -> None:
    assert is_sendable_close_code(code) is ok


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
@pytest.mark.parametrize("piece", [1000, 4093, 65536, 300_000])
def test_a_large_frame_is_collected_in_pieces(masked: bool, piece: int) -> None:
    # Over COLLECT_MIN the payload is collected in pieces as it arrives, and
    # unmasked as they are joined; odd piece sizes put every masking-key
    # rotation at a piece boundary.
    payload = os.urandom(COLLECT_MIN + 12_345)
    key = KEY if masked else None
    wire = build_frame(Opcode.BINARY, payload, fin=False, mask_key=key)
    after = build_frame(Opcode.PING, b"next", mask_key=key)
    data = wire + after
    parser = FrameParser(expect_masked=masked)
    frames = []
    for start in range(0, len(data), piece):
        parser.feed(data[start : start + piece])
        while (frame := parser.next_frame()) is not None:
            frames.append(frame)
        if not frames and start + piece >= 14:
            # The header is known as soon as it is complete.
            assert parser.pending() == PendingFrame(
                Opcode.BINARY, False, False, len(payload)
            )
    assert frames == [
        Frame(Opcode.BINARY, payload, fin=False),
        Frame(Opcode.PING, b"next"),
    ]
    assert parser.buffered == 0
    assert parser.pending() is None


def test_peek_payload_of_a_collected_frame_returns_each_part_once() -> None:
    payload = os.urandom(COLLECT_MIN + 1000)
    wire = build_frame(Opcode.TEXT, payload, mask_key=KEY)
    parser = FrameParser(expect_masked=True)
    seen = b""
    for start in range(0, len(wire) - 1, 70_001):
        parser.feed(wire[start : min(start + 70_001, len(wire) - 1)])
        assert parser.next_frame() is None
        chunk = parser.peek_payload(len(seen))
        seen += chunk
        assert payload.startswith(seen)
    assert seen == payload[:-1]  # all but the last byte, not fed yet
    assert parser.peek_payload(len(payload) - 1000) == payload[-1000:-1]
    parser.feed(wire[-1:])
    frame = parser.next_frame()
    assert frame is not None and frame.payload == payload


def read_into(parser: FrameParser, data: bytes, most: int) -> int:
    """Write up to ``most`` bytes of ``data`` into receive_buffer(), as a
    socket's recv_into would; returns how many (0: no room offered)."""
    room = parser.receive_buffer()
    if room is None:
        return 0
    with room:
        count = min(len(room), len(data), most)
        room[:count] = data[:count]
    parser.received_into(count)
    return count


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
@pytest.mark.parametrize("most", [4093, 65536, 1 << 20])
def test_a_large_payload_is_read_straight_into_its_pieces(
    masked: bool, most: int
) -> None:
    # receive_buffer() offers room only inside the frame: what follows it
    # (here a ping) must go through feed(). Odd read sizes put every key
    # rotation at a read boundary.
    payload = os.urandom(3 * COLLECT_MIN + 12_345)
    key = KEY if masked else None
    wire = build_frame(Opcode.BINARY, payload, mask_key=key)
    after = build_frame(Opcode.PING, b"next", mask_key=key)
    parser = FrameParser(expect_masked=masked)
    assert parser.receive_buffer() is None  # no large frame yet
    parser.feed(wire[:1000])
    assert parser.next_frame() is None
    position = 1000
    while (count := read_into(parser, wire[position:], most)) > 0:
        position += count
        assert position <= len(wire)
    assert position == len(wire)
    assert parser.next_frame() == Frame(Opcode.BINARY, payload)
    assert parser.receive_buffer() is None
    parser.feed(after)
    assert parser.next_frame() == Frame(Opcode.PING, b"next")
    assert parser.buffered == 0


@pytest.mark.parametrize("every", [1, 2, 3])
def test_peeks_between_reads_leave_the_payload_whole(every: int) -> None:
    # peek_payload() unmasks what has arrived so far, in place; the rest is
    # unmasked as the pieces are joined: peeks after some reads only (odd
    # read sizes: every key rotation, inside pieces and at their ends).
    payload = os.urandom(2 * COLLECT_MIN + 4321)
    wire = build_frame(Opcode.TEXT, payload, mask_key=KEY)
    parser = FrameParser(expect_masked=True)
    parser.feed(wire[:999])
    assert parser.next_frame() is None
    position, reads, seen = 999, 0, b""
    while (count := read_into(parser, wire[position:], 4093 + reads % 3)) > 0:
        position += count
        reads += 1
        if reads % every == 0:
            seen += parser.peek_payload(len(seen))
            assert payload.startswith(seen)
    assert position == len(wire)
    assert parser.next_frame() == Frame(Opcode.TEXT, payload)


def test_recycled_pieces_expose_no_earlier_bytes() -> None:
    # Pieces come back from the pool with a previous payload still in them:
    # peek_payload() and the payload show only what this frame wrote.
    old = bytes([0xAA]) * (2 * COLLECT_MIN)
    parser = FrameParser(expect_masked=True)
    parser.feed(build_frame(Opcode.BINARY, old, mask_key=KEY))
    assert parser.next_frame() == Frame(Opcode.BINARY, old)
    payload = b"z" * (COLLECT_MIN + 7)
    wire = build_frame(Opcode.TEXT, payload, mask_key=KEY)
    parser.feed(wire[:-7])
    assert parser.next_frame() is None
    assert parser.peek_payload(0) == payload[:-7]
    parser.feed(wire[-7:])
    assert parser.next_frame() == Frame(Opcode.TEXT, payload)


def test_room_offered_ahead_of_the_bytes_received_is_bounded() -> None:
    # A header that claims 64 MiB gets no more room than the bytes that
    # actually arrived (16 KiB while none has), piece after piece.
    header = bytes([0x82, 0xFF]) + struct.pack("!Q", 64 << 20) + KEY
    parser = FrameParser(expect_masked=True)
    parser.feed(header)
    assert parser.next_frame() is None
    room = parser.receive_buffer()
    assert room is not None and len(room) == 16 << 10
    room.release()
    parser.received_into(1000)
    received = 1000
    for _ in range(12):
        room = parser.receive_buffer()
        assert room is not None
        assert len(room) <= max(received, 16 << 10)
        with room:
            count = len(room)
        parser.received_into(count)
        received += count
    assert received > 4 << 20  # the pieces did grow (doubling, up to 1 MiB)


def test_frame_values_compare_hash_and_print_by_their_fields() -> None:
    frame = Frame(Opcode.TEXT, b"hi", fin=False, rsv1=True)
    same = Frame(Opcode.TEXT, b"hi", False, True, False, False)
    assert frame == same and hash(frame) == hash(same)
    for other in (
        Frame(Opcode.BINARY, b"hi", fin=False, rsv1=True),
        Frame(Opcode.TEXT, b"ho", fin=False, rsv1=True),
        Frame(Opcode.TEXT, b"hi", rsv1=True),
        Frame(Opcode.TEXT, b"hi", fin=False),
        Frame(Opcode.TEXT, b"hi", fin=False, rsv1=True, rsv2=True),
        Frame(Opcode.TEXT, b"hi", fin=False, rsv1=True, rsv3=True),
    ):
        assert frame != other
    assert frame != (Opcode.TEXT, b"hi", False, True, False, False)
    assert repr(frame) == (
        "Frame(opcode=<Opcode.TEXT: 1>, payload=b'hi', fin=False, rsv1=True, "
        "rsv2=False, rsv3=False)"
    )
    pending = PendingFrame(Opcode.BINARY, False, True, 300)
    assert pending == PendingFrame(Opcode.BINARY, False, True, 300)
    assert pending != PendingFrame(Opcode.BINARY, False, True, 301)
    assert hash(pending) == hash(PendingFrame(Opcode.BINARY, False, True, 300))
    assert "length=300" in repr(pending)


@pytest.mark.skipif(
    IMPLEMENTATION != "compiled", reason="read-only only when compiled (mypyc)"
)
def test_compiled_frames_are_read_only() -> None:
    frame = Frame(Opcode.TEXT, b"hi")
    with pytest.raises(AttributeError):
        frame.fin = False  # type: ignore[misc]
