"""permessage-deflate inside the protocol: RSV1 handling, bounds, opt-out."""

from __future__ import annotations

import os
import zlib

import pytest

from trio_ws._core._deflate import DeflateOptions, DeflateParams, PerMessageDeflate
from trio_ws._core._events import BinaryMessage, TextMessage
from trio_ws._core._frames import Frame, FrameParser, Opcode, build_frame
from trio_ws._core._protocol import Protocol, Role, State

KEY = b"\x0a\x0b\x0c\x0d"
PARAMS = DeflateParams(
    server_no_context_takeover=False,
    client_no_context_takeover=False,
    server_max_window_bits=15,
    client_max_window_bits=15,
)


def pair(
    params: DeflateParams = PARAMS, options: DeflateOptions | None = None
) -> tuple[Protocol, Protocol]:
    options = options or DeflateOptions()
    client = Protocol(
        Role.CLIENT,
        extension=PerMessageDeflate(params, is_client=True, options=options),
    )
    server = Protocol(
        Role.SERVER,
        max_message_size=1 << 20,
        extension=PerMessageDeflate(params, is_client=False, options=options),
    )
    return client, server


def frames_of(data: bytes, *, masked: bool) -> list[Frame]:
    parser = FrameParser(expect_masked=masked)
    parser.feed(data)
    out = []
    while (frame := parser.next_frame()) is not None:
        out.append(frame)
    return out


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def test_rfc7692_hello_frame_is_decoded() -> None:
    # RFC 7692 7.2.3.1: "Hello" compressed, in one frame with RSV1.
    _client, server = pair()
    wire = build_frame(
        Opcode.TEXT, bytes.fromhex("f248cdc9c90700"), rsv1=True, mask_key=KEY
    )
    server.receive_data(wire)
    assert server.events() == [TextMessage("Hello")]


def test_rfc7692_hello_fragmented_rsv1_on_first_frame_only() -> None:
    _client, server = pair()
    payload = bytes.fromhex("f248cdc9c90700")
    wire = build_frame(Opcode.TEXT, payload[:3], fin=False, rsv1=True, mask_key=KEY)
    wire += build_frame(Opcode.CONTINUATION, payload[3:], mask_key=KEY)
    for i in range(len(wire)):  # one byte at a time
        server.receive_data(wire[i : i + 1])
    assert server.events() == [TextMessage("Hello")]


def test_round_trip_with_context_takeover_shrinks_repeats() -> None:
    client, server = pair()
    text = "the same sentence, again and again. " * 20
    sizes = []
    for _ in range(3):
        client.send_text(text)
        wire = client.data_to_send()
        (frame,) = frames_of(wire, masked=True)
        assert frame.rsv1
        sizes.append(len(frame.payload))
        server.receive_data(wire)
        assert server.events() == [TextMessage(text)]
    assert sizes[1] < sizes[0]  # the second message refers to the first
    assert sizes[1] < len(text) // 10


def test_threshold_and_per_message_opt_out() -> None:
    client, server = pair(options=DeflateOptions(threshold=100))
    client.send_binary(b"x" * 99)  # under the threshold
    client.send_binary(b"y" * 5000, compress=False)  # opted out
    client.send_binary(b"z" * 10, compress=True)  # forced
    wire = client.data_to_send()
    assert [f.rsv1 for f in frames_of(wire, masked=True)] == [False, False, True]
    server.receive_data(wire)
    assert server.events() == [
        BinaryMessage(b"x" * 99),
        BinaryMessage(b"y" * 5000),
        BinaryMessage(b"z" * 10),
    ]


def test_compress_flag_is_ignored_without_the_extension() -> None:
    proto = Protocol(Role.SERVER)
    proto.send_text("x" * 1000, compress=True)
    (frame,) = frames_of(proto.data_to_send(), masked=False)
    assert not frame.rsv1 and frame.payload == b"x" * 1000


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (
            build_frame(Opcode.TEXT, b"a", fin=False, mask_key=KEY)
            + build_frame(
                Opcode.CONTINUATION, raw_deflate(b"b"), rsv1=True, mask_key=KEY
            ),
            "continuation",
        ),
        (build_frame(Opcode.PING, b"", rsv1=True, mask_key=KEY), "control"),
        (bytes([0xA1, 0x80]) + KEY, "reserved"),  # RSV2 stays illegal
    ],
    ids=["rsv1-continuation", "rsv1-ping", "rsv2"],
)
def test_rsv_rules_with_the_extension(wire: bytes, reason: str) -> None:
    _client, server = pair()
    server.receive_data(wire)
    assert server.state is State.CLOSED
    assert server.error is not None and server.error.close_code == 1002
    assert reason in str(server.error)


def test_rsv1_without_the_extension_is_a_protocol_error() -> None:
    proto = Protocol(Role.SERVER)
    proto.receive_data(
        build_frame(Opcode.TEXT, raw_deflate(b"hi"), rsv1=True, mask_key=KEY)
    )
    assert proto.error is not None and proto.error.close_code == 1002


def test_bomb_closes_with_1009_without_inflating_it_all() -> None:
    _client, server = pair()
    compressor = zlib.compressobj(level=9, wbits=-15)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64))  # 64 MiB of zeros
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(bomb) < 100_000
    server.receive_data(build_frame(Opcode.BINARY, bomb, rsv1=True, mask_key=KEY))
    assert server.error is not None and server.error.close_code == 1009
    assert server.events()[-1].__class__.__name__ == "ProtocolFailure"


def test_corrupt_deflate_data_closes_with_1007() -> None:
    _client, server = pair()
    server.receive_data(
        build_frame(Opcode.TEXT, b"\xff\xff\xff\xff", rsv1=True, mask_key=KEY)
    )
    assert server.error is not None and server.error.close_code == 1007


def test_compressed_invalid_utf8_closes_with_1007() -> None:
    _client, server = pair()
    wire = build_frame(Opcode.TEXT, raw_deflate(b"ok \xff"), rsv1=True, mask_key=KEY)
    server.receive_data(wire)
    assert server.error is not None and server.error.close_code == 1007


def test_uncompressed_message_over_the_limit_on_a_deflate_connection() -> None:
    _client, server = pair()
    server.max_message_size = 100
    server.receive_data(build_frame(Opcode.BINARY, bytes(101), mask_key=KEY))
    assert server.error is not None and server.error.close_code == 1009


def test_incompressible_message_at_the_limit_is_accepted() -> None:
    client, server = pair()
    data = os.urandom(1 << 20)
    client.send_binary(data, compress=True)  # deflate makes it slightly bigger
    wire = client.data_to_send()
    assert len(frames_of(wire, masked=True)[0].payload) > len(data)
    server.receive_data(wire)
    assert server.events() == [BinaryMessage(data)]
