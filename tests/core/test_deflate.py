"""Tests for permessage-deflate (trio_ws._core._deflate, RFC 7692)."""

from __future__ import annotations

import os
import random
import time
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ws._core._deflate import (
    DEFAULT_COMPRESSION_LEVEL,
    DEFAULT_MEMORY_LEVEL,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_BITS,
    DeflateOptions,
    DeflateParams,
    PerMessageDeflate,
    client_accept,
    client_offer,
    parse_extensions,
    server_negotiate,
)
from trio_ws._exceptions import (
    InvalidHandshake,
    LocalProtocolError,
    RemoteProtocolError,
)

HELLO = bytes.fromhex("f248cdc9c90700")  # RFC 7692 7.2.3.1
HELLO_AGAIN = bytes.fromhex("f200110000")  # RFC 7692 7.2.3.2
FULL = DeflateParams(False, False, 15, 15)  # no parameters at all
NO_TAKEOVER = DeflateParams(True, True, 15, 15)
OPTIONS = DeflateOptions()


def server(params: DeflateParams = FULL, **options: Any) -> PerMessageDeflate:
    return PerMessageDeflate(
        params,
        is_client=False,
        options=DeflateOptions(**options),
    )


def client(params: DeflateParams = FULL, **options: Any) -> PerMessageDeflate:
    return PerMessageDeflate(
        params,
        is_client=True,
        options=DeflateOptions(**options),
    )


def inflate(
    side: PerMessageDeflate, *fragments: bytes, max_size: int | None = None
) -> bytes:
    side.start_message(max_size)
    last = len(fragments) - 1
    return b"".join(
        side.decompress(f, final=i == last) for i, f in enumerate(fragments)
    )


# --- RFC 7692 7.2.3 examples, byte for byte -----------------------------------


def test_7_2_3_1_hello_in_one_block() -> None:
    assert server(window_bits=15).compress(b"Hello") == HELLO
    assert server().compress(b"Hello") == HELLO  # our smaller defaults too
    assert inflate(client(), HELLO) == b"Hello"


def test_7_2_3_1_hello_fragmented() -> None:
    # The RFC splits the same payload over two frames: f2 48 cd | c9 c9 07 00.
    assert inflate(client(), HELLO[:3], HELLO[3:]) == b"Hello"
    one_byte_frames = [HELLO[i : i + 1] for i in range(len(HELLO))]
    assert inflate(client(), *one_byte_frames) == b"Hello"


def test_one_byte_fragments_of_a_large_message() -> None:
    payload = b"".join(b"item %d, " % i for i in range(2000))
    compressed = server().compress(payload)
    fragments = [compressed[i : i + 1] for i in range(len(compressed))]
    assert inflate(client(), *fragments, max_size=len(payload)) == payload


def test_7_2_3_2_context_takeover_shares_the_window() -> None:
    sender = server()
    assert sender.compress(b"Hello") == HELLO
    assert sender.compress(b"Hello") == HELLO_AGAIN
    receiver = client()
    assert inflate(receiver, HELLO) == b"Hello"
    assert inflate(receiver, HELLO_AGAIN) == b"Hello"


def test_7_2_3_2_without_context_takeover_messages_are_alike() -> None:
    sender = server(NO_TAKEOVER)
    assert sender.compress(b"Hello") == HELLO
    assert sender.compress(b"Hello") == HELLO
    # Our own no_context_takeover option has the same effect.
    sender = server(FULL, no_context_takeover=True)
    assert [sender.compress(b"Hello") for _ in "ab"] == [HELLO, HELLO]


def test_no_context_takeover_receiver_forgets_the_window() -> None:
    # The peer promised not to use takeover: a back-reference into the previous
    # message is then invalid data, which proves the decompressor was reset.
    receiver = client(NO_TAKEOVER)
    assert inflate(receiver, HELLO) == b"Hello"
    with pytest.raises(RemoteProtocolError) as info:
        inflate(receiver, HELLO_AGAIN)
    assert info.value.close_code == 1007


def test_7_2_3_3_stored_block() -> None:
    stored = bytes.fromhex("000500faff48656c6c6f00")
    assert inflate(client(), stored) == b"Hello"
    assert server(compression_level=0).compress(b"Hello") == stored


def test_7_2_3_4_bfinal_block_then_more_messages() -> None:
    receiver = client()
    assert inflate(receiver, bytes.fromhex("f348cdc9c9070000")) == b"Hello"
    # The stream ended; the next messages start a new one and still decode.
    assert inflate(receiver, HELLO) == b"Hello"
    assert inflate(receiver, HELLO_AGAIN) == b"Hello"


def test_bfinal_block_followed_by_more_blocks_in_one_message() -> None:
    # RFC 7692 7.2.1: "the next DEFLATE block follows the padded data".
    first = zlib.compressobj(wbits=-15)
    part1 = first.compress(b"Hello, ") + first.flush(zlib.Z_FINISH)
    second = zlib.compressobj(wbits=-15)
    part2 = second.compress(b"world") + second.flush(zlib.Z_SYNC_FLUSH)
    assert inflate(client(), part1 + part2[:-4]) == b"Hello, world"
    assert inflate(client(), part1, part2[:-4]) == b"Hello, world"


def test_7_2_3_5_two_blocks_in_one_message() -> None:
    payload = bytes.fromhex("f24805000000ffffcac9c90700")
    assert inflate(client(), payload) == b"Hello"
    assert inflate(client(), payload[:8], payload[8:]) == b"Hello"


def test_7_2_3_6_empty_message_and_empty_last_fragment() -> None:
    sender = server()
    assert sender.compress(b"") == b"\x00"
    assert sender.compress(b"Hello") == HELLO  # the empty block left no trace
    assert inflate(client(), b"\x00") == b""
    # A sender that flushed "Hello" (keeping 00 00 ff ff) ends the message
    # with an empty final fragment holding only the 0x00 of an empty block.
    flushed = HELLO + b"\x00\x00\xff\xff"  # "Hello", sync-flushed
    assert inflate(client(), flushed, b"\x00") == b"Hello"


# --- Round trips --------------------------------------------------------------


class StrictInflater:
    """An independent reference inflater that enforces a window exactly.

    zlib checks distances against the window plus the output of the current
    inflate() call, so inflating one byte per call makes any back-reference
    farther than 2**bits bytes fail.
    """

    def __init__(self, bits: int, reset: bool) -> None:
        self.bits, self.reset = bits, reset
        self.inflater = zlib.decompressobj(-bits)

    def message(self, payload: bytes) -> bytes:
        data, out = payload + b"\x00\x00\xff\xff", []
        while data:
            out.append(self.inflater.decompress(data, 1))
            data = self.inflater.unconsumed_tail
        if self.reset:
            self.inflater = zlib.decompressobj(-self.bits)
        return b"".join(out)


def test_strict_inflater_catches_a_too_far_back_reference() -> None:
    block = os.urandom(300)
    wide = zlib.compressobj(wbits=-15)
    payload = (wide.compress(block * 3) + wide.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert StrictInflater(9, reset=False).message(payload) == block * 3
    with pytest.raises(zlib.error):
        StrictInflater(8, reset=False).message(payload)


# Messages with repetition inside and across messages, so that LZ77 matches
# occur at all distances, including just beyond every window size.
random_chunks = st.builds(
    lambda seed, size: random.Random(seed).randbytes(size),
    st.integers(0, 1 << 32),
    st.one_of(st.integers(1, 600), st.sampled_from([257, 300, 513, 1025, 2049])),
)
messages = st.lists(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(random_chunks, st.integers(1, 4)).map(lambda t: t[0] * t[1]),
    ),
    min_size=1,
    max_size=5,
)
window = st.integers(8, 15)


@settings(max_examples=150, deadline=None)
@given(
    messages,
    window,
    window,
    st.booleans(),
    st.booleans(),
    st.integers(9, 15),
    st.integers(9, 15),
    st.data(),
)
def test_round_trip_respects_the_agreed_windows(
    payloads: list[bytes],
    server_bits: int,
    client_bits: int,
    server_reset: bool,
    client_reset: bool,
    server_window: int,
    client_window: int,
    data: st.DataObject,
) -> None:
    params = DeflateParams(server_reset, client_reset, server_bits, client_bits)
    ours = server(params, window_bits=server_window, threshold=0)
    theirs = client(params, window_bits=client_window, threshold=0)
    strict_to_client = StrictInflater(server_bits, server_reset)
    strict_to_server = StrictInflater(client_bits, client_reset)
    for payload in payloads:
        for sender, receiver, strict in (
            (ours, theirs, strict_to_client),
            (theirs, ours, strict_to_server),
        ):
            compressed = sender.compress(payload)
            # Never a back-reference beyond the agreed window (8 included).
            assert strict.message(compressed) == payload
            cuts = sorted(
                data.draw(st.lists(st.integers(0, len(compressed)), max_size=3))
            )
            fragments = [
                compressed[a:b]
                for a, b in zip([0, *cuts], [*cuts, len(compressed)], strict=True)
            ]
            assert inflate(receiver, *fragments, max_size=len(payload)) == payload


@settings(max_examples=100, deadline=None)
@given(
    st.integers(9, 15),
    st.integers(9, 15),
    st.booleans(),
    st.booleans(),
    st.lists(st.binary(max_size=2000), min_size=1, max_size=4),
)
def test_negotiated_sides_agree_and_round_trip(
    client_window: int,
    server_window: int,
    client_reset: bool,
    server_reset: bool,
    payloads: list[bytes],
) -> None:
    client_options = DeflateOptions(
        window_bits=client_window, no_context_takeover=client_reset
    )
    server_options = DeflateOptions(
        window_bits=server_window, no_context_takeover=server_reset
    )
    agreed = server_negotiate([client_offer(client_options)], server_options)
    assert agreed is not None
    assert client_accept(agreed.response_header(), client_options) == agreed
    # Each side asked for its own window for the direction it receives.
    assert agreed.server_max_window_bits <= client_window
    assert agreed.client_max_window_bits <= server_window
    ours = PerMessageDeflate(agreed, is_client=False, options=server_options)
    theirs = PerMessageDeflate(agreed, is_client=True, options=client_options)
    for payload in payloads:
        assert inflate(theirs, ours.compress(payload)) == payload
        assert inflate(ours, theirs.compress(payload)) == payload


@pytest.mark.parametrize("agreed", range(8, 16))
@pytest.mark.parametrize("is_client", [False, True])
def test_compressor_never_reaches_beyond_the_agreed_window(
    agreed: int, is_client: bool
) -> None:
    params = DeflateParams(False, False, agreed, agreed)
    sender = PerMessageDeflate(
        params, is_client=is_client, options=DeflateOptions(window_bits=15)
    )
    strict = StrictInflater(agreed, reset=False)
    for distance in (1 << agreed) + 1, (1 << agreed) + 300:
        payload = os.urandom(distance) * 2
        assert strict.message(sender.compress(payload)) == payload
        # The same block once more, now only in the previous message.
        assert strict.message(sender.compress(payload[:distance])) == payload[:distance]


# --- Window bits 8 ------------------------------------------------------------


def test_agreed_window_8_compressor_stays_within_256_bytes() -> None:
    params = server_negotiate(["permessage-deflate; server_max_window_bits=8"], OPTIONS)
    assert params is not None
    assert params.server_max_window_bits == 8
    assert params.response_header() == "permessage-deflate; server_max_window_bits=8"
    sender = server(params)
    strict = StrictInflater(8, reset=False)
    block = os.urandom(200)
    for payload in (block * 5, b"a" * 5000, block, os.urandom(300) * 3):
        compressed = sender.compress(payload)
        assert strict.message(compressed) == payload
    runs = sender.compress(b"z" * 10_000)
    assert len(runs) < 100  # still compresses (runs of a byte)
    # Z_RLE: only distance-1 matches, whatever zlib's window handling does.
    # (Seeded: a random block with long runs of one byte would compress.)
    assert len(sender.compress(random.Random(8).randbytes(100) * 5)) > 450


def test_peer_window_8_is_inflated_with_a_9_bit_window() -> None:
    # A peer that announced 8 but whose zlib silently used 9 (zlib < 1.2.9)
    # refers up to 512 bytes back, here into its previous message.
    peer = zlib.compressobj(wbits=-10)
    block = os.urandom(300)
    first = (peer.compress(block) + peer.flush(zlib.Z_SYNC_FLUSH))[:-4]
    second = (peer.compress(block) + peer.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert len(second) < 50  # a back-reference 300 bytes back
    receiver = client(DeflateParams(False, False, 8, 15))
    assert inflate(receiver, first) == block
    assert inflate(receiver, second) == block
    with pytest.raises(zlib.error):  # what a strict 8-bit inflater does
        strict = StrictInflater(8, reset=False)
        strict.message(first)
        strict.message(second)


# --- Limits and errors --------------------------------------------------------


def make_bomb(gib: int = 1) -> tuple[bytes, int]:
    """Return a raw DEFLATE stream of zeros inflating to ``gib`` GiB, cheaply:
    once the window is all zeros, every 1 MiB sync-flushed block is the same
    bytes, so one block is compressed and then repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    mib = bytes(1 << 20)
    head = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    again = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert block == again
    # The construction is sound: head + 2 blocks inflate to 3 MiB.
    assert len(zlib.decompressobj(-15).decompress(head + block * 2)) == 3 << 20
    count = (gib << 10) - 1
    return head + block * count, (count + 1) << 20


def test_decompression_bomb_is_stopped_early_and_cheaply() -> None:
    bomb, inflated_size = make_bomb()
    assert inflated_size >= 1 << 30
    assert len(bomb) < 2 << 20  # ~1 MB (DEFLATE tops out near 1:1032)
    receiver = client()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        receiver.start_message(1 << 20)
        with pytest.raises(RemoteProtocolError) as info:
            receiver.decompress(bomb, final=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.close_code == 1009
    assert peak < 16 << 20
    assert time.perf_counter() - started < 1
    assert receiver.idle  # the zlib state was dropped


def test_bomb_split_over_fragments_is_stopped_too() -> None:
    bomb, _ = make_bomb()
    receiver = client()
    receiver.start_message(4 << 20)
    inflated = 0
    with pytest.raises(RemoteProtocolError) as info:
        for start in range(0, len(bomb), 1 << 16):
            inflated += len(
                receiver.decompress(bomb[start : start + (1 << 16)], final=False)
            )
    assert info.value.close_code == 1009
    assert inflated <= 4 << 20


def test_size_limit_is_exact() -> None:
    sender = server()
    payload = os.urandom(100) * 50  # 5000 bytes
    compressed = sender.compress(payload)
    assert inflate(client(), compressed, max_size=5000) == payload
    with pytest.raises(RemoteProtocolError) as info:
        inflate(client(), compressed, max_size=4999)
    assert info.value.close_code == 1009
    # The limit is per message, across its fragments.
    receiver = client()
    receiver.start_message(5000)
    half = len(compressed) // 2
    first = receiver.decompress(compressed[:half], final=False)
    assert first + receiver.decompress(compressed[half:], final=True) == payload


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xff",  # BTYPE 11 is reserved
        b"\x00\x05\x00\x00\x00Hello",  # stored block with a bad NLEN
        HELLO_AGAIN,  # a back-reference with nothing before it
        HELLO + b"\x00\x00\xff\xff\x07",  # garbage after a valid block
    ],
)
def test_corrupt_data_is_1007(payload: bytes) -> None:
    receiver = client()
    with pytest.raises(RemoteProtocolError) as info:
        inflate(receiver, payload)
    assert info.value.close_code == 1007
    assert receiver.idle


def test_decompress_needs_start_message() -> None:
    receiver = client()
    with pytest.raises(LocalProtocolError):
        receiver.decompress(HELLO, final=True)
    assert inflate(receiver, HELLO) == b"Hello"
    with pytest.raises(LocalProtocolError):  # the message ended
        receiver.decompress(HELLO, final=True)


def test_threshold() -> None:
    assert DEFAULT_THRESHOLD == 128
    side = server()
    assert not side.should_compress(127)
    assert side.should_compress(128)
    assert server(threshold=0).should_compress(0)
    assert not server(threshold=1000).should_compress(999)


def test_idle_connection_holds_no_zlib_state_without_takeover() -> None:
    for is_client in (False, True):
        side = PerMessageDeflate(NO_TAKEOVER, is_client=is_client, options=OPTIONS)
        assert side.idle
        assert inflate(side, side.compress(b"x" * 1000)) == b"x" * 1000
        assert side.idle
        assert side._compressor is None and side._decompressor is None
    # With context takeover the state must stay, or 7.2.3.2 would break.
    side = server()
    assert inflate(side, side.compress(b"x" * 1000)) == b"x" * 1000
    assert side._compressor is not None and side._decompressor is not None


def test_own_no_context_takeover_releases_the_compressor() -> None:
    side = server(FULL, no_context_takeover=True)
    side.compress(b"Hello")
    assert side._compressor is None


# --- Options and params -------------------------------------------------------


def test_defaults() -> None:
    options = DeflateOptions()
    assert (options.window_bits, options.memory_level) == (12, 5)
    assert options.compression_level == DEFAULT_COMPRESSION_LEVEL == 6
    assert DEFAULT_WINDOW_BITS == 12 and DEFAULT_MEMORY_LEVEL == 5
    assert options.threshold == 128 and not options.no_context_takeover


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_bits": 8},
        {"window_bits": 16},
        {"memory_level": 0},
        {"memory_level": 10},
        {"compression_level": -2},
        {"compression_level": 10},
        {"threshold": -1},
    ],
)
def test_options_are_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DeflateOptions(**kwargs)  # type: ignore[arg-type]


def test_options_reject_non_ints() -> None:
    with pytest.raises(TypeError):
        DeflateOptions(window_bits=True)
    with pytest.raises(TypeError):
        DeflateOptions(threshold=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [7, 16])
def test_params_are_validated(bits: int) -> None:
    with pytest.raises(ValueError):
        DeflateParams(False, False, bits, 15)
    with pytest.raises(ValueError):
        DeflateParams(False, False, 15, bits)


# --- parse_extensions ---------------------------------------------------------


def test_parse_extensions() -> None:
    assert parse_extensions(
        [
            "permessage-deflate; client_max_window_bits, Permessage-Deflate ;"
            ' Server_Max_Window_Bits = "10" ;a=b',
            " , x-webkit-deflate-frame,,",
        ]
    ) == [
        ("permessage-deflate", [("client_max_window_bits", None)]),
        ("permessage-deflate", [("server_max_window_bits", "10"), ("a", "b")]),
        ("x-webkit-deflate-frame", []),
    ]
    assert parse_extensions([]) == parse_extensions([""]) == []
    assert parse_extensions(['a; b="\\1\\0"']) == [("a", [("b", "10")])]


@pytest.mark.parametrize(
    "value",
    [
        "a;",
        ";a",
        "a b",
        "a;;b",
        "a=b",
        "a;b=",
        "a;b=c=d",
        "a;b c",
        'a;b="x',
        'a;b="1 0"',  # quoted, but not a token once unquoted
        'a;b="1,0"',
        'a;b=""',
        "a;b=\x01",
        "é",
    ],
)
def test_parse_extensions_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        parse_extensions([value])


# --- Server negotiation -------------------------------------------------------


def test_browser_offer() -> None:
    # What Chrome and Firefox send.
    offer = ["permessage-deflate; client_max_window_bits"]
    params = server_negotiate(offer, OPTIONS)
    assert params == DeflateParams(False, False, 15, 12)
    assert params.response_header() == "permessage-deflate; client_max_window_bits=12"
    params = server_negotiate(offer, DeflateOptions(window_bits=15))
    assert params is not None
    assert params.response_header() == "permessage-deflate"


def test_bare_offer_never_gets_window_parameters() -> None:
    # RFC 7692 7.1.2.2: no client_max_window_bits in the response unless
    # offered; and no unasked server_max_window_bits (Firefox refuses them).
    params = server_negotiate(["permessage-deflate"], OPTIONS)
    assert params == DeflateParams(False, False, 15, 15)
    assert params.response_header() == "permessage-deflate"


@pytest.mark.parametrize(
    ("offer", "expected", "header"),
    [
        (
            "permessage-deflate; server_max_window_bits=10",
            DeflateParams(False, False, 10, 15),
            "permessage-deflate; server_max_window_bits=10",
        ),
        (  # capped by our own window as well
            "permessage-deflate; server_max_window_bits=14",
            DeflateParams(False, False, 12, 15),
            "permessage-deflate; server_max_window_bits=12",
        ),
        (
            "permessage-deflate; client_max_window_bits=9",
            DeflateParams(False, False, 15, 9),
            "permessage-deflate; client_max_window_bits=9",
        ),
        (
            'permessage-deflate; client_max_window_bits="10"',
            DeflateParams(False, False, 15, 10),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            DeflateParams(False, True, 15, 15),
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            DeflateParams(True, False, 15, 15),
            "permessage-deflate; server_no_context_takeover",
        ),
    ],
)
def test_server_accepts(offer: str, expected: DeflateParams, header: str) -> None:
    params = server_negotiate([offer], OPTIONS)
    assert params == expected
    assert params.response_header() == header


def test_own_no_context_takeover_is_announced() -> None:
    options = DeflateOptions(no_context_takeover=True)
    params = server_negotiate(["permessage-deflate"], options)
    assert params is not None
    assert params.response_header() == "permessage-deflate; server_no_context_takeover"


def test_first_acceptable_offer_wins() -> None:
    one_header = [
        "x-webkit-deflate-frame, permessage-deflate; foo,"
        " permessage-deflate; server_max_window_bits=10,"
        " permessage-deflate; server_max_window_bits=11"
    ]
    params = server_negotiate(one_header, OPTIONS)
    assert params is not None and params.server_max_window_bits == 10
    several_headers = [
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate",
    ]
    params = server_negotiate(several_headers, OPTIONS)
    assert params == DeflateParams(True, False, 15, 15)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; unknown",
        "permessage-deflate; server_max_window_bits",  # needs a value
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",  # leading zero
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits=0x9",
        'permessage-deflate; client_max_window_bits="7"',
        "permessage-deflate; server_no_context_takeover=1",
        'permessage-deflate; client_no_context_takeover="x"',
        "x-webkit-deflate-frame",
        "deflate-frame",
    ],
)
def test_server_declines(offer: str) -> None:
    assert server_negotiate([offer], OPTIONS) is None
    # ... and falls through to an acceptable offer after it.
    assert server_negotiate([offer, "permessage-deflate"], OPTIONS) == FULL


def test_no_header_no_compression() -> None:
    assert server_negotiate([], OPTIONS) is None


@pytest.mark.parametrize(
    "value", ["permessage-deflate;", "permessage-deflate; a=", '; b="1 0"', "a b"]
)
def test_unparseable_offer_is_400(value: str) -> None:
    with pytest.raises(InvalidHandshake) as info:
        server_negotiate(["permessage-deflate", value], OPTIONS)
    assert info.value.status_code == 400


# --- Client side --------------------------------------------------------------


def test_client_offer() -> None:
    assert (
        client_offer(OPTIONS)
        == "permessage-deflate; client_max_window_bits; server_max_window_bits=12"
    )
    assert (
        client_offer(DeflateOptions(window_bits=15, no_context_takeover=True))
        == "permessage-deflate; client_max_window_bits; client_no_context_takeover"
    )
    # Our offer is one the server side accepts as asked.
    params = server_negotiate([client_offer(OPTIONS)], OPTIONS)
    assert params == DeflateParams(False, False, 12, 12)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("permessage-deflate", DeflateParams(False, False, 15, 15)),
        (
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
            DeflateParams(False, False, 12, 9),
        ),
        (
            "Permessage-Deflate; server_max_window_bits=8",
            DeflateParams(False, False, 8, 15),
        ),
        (
            # The server may ask for client_no_context_takeover unasked.
            "permessage-deflate; client_no_context_takeover;"
            " server_no_context_takeover",
            DeflateParams(True, True, 15, 15),
        ),
        (
            'permessage-deflate; client_max_window_bits="10"',
            DeflateParams(False, False, 15, 10),
        ),
    ],
)
def test_client_accepts(response: str, expected: DeflateParams) -> None:
    assert client_accept(response, OPTIONS) == expected


def test_client_accepts_any_server_window_when_it_did_not_ask() -> None:
    options = DeflateOptions(window_bits=15)
    params = client_accept("permessage-deflate; server_max_window_bits=15", options)
    assert params.server_max_window_bits == 15


@pytest.mark.parametrize(
    "response",
    [
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=13",  # we offered 12
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits",  # needs a value here
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_no_context_takeover=yes",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate, x-webkit-deflate-frame",
        "x-webkit-deflate-frame",
        "",
        "permessage-deflate;",
    ],
)
def test_client_rejects(response: str) -> None:
    with pytest.raises(InvalidHandshake):
        client_accept(response, OPTIONS)
