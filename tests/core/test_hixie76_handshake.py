"""Legacy draft-76 opening handshake: keys, key3, the MD5 answer, the 101."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws import InvalidHandshake
from trio_ws._core import _handshake as hs
from trio_ws._core._hixie76 import (
    KEY3_LENGTH,
    MAX_KEY_LENGTH,
    Hixie76Offer,
    Key3Reader,
    build_hixie76_response,
    challenge_response,
    is_hixie76_request,
    key_number,
    validate_hixie76_request,
)

# draft-hixie-thewebsocketprotocol-76 (= draft-ietf-hybi-thewebsocketprotocol-00)
# section 1.3: the example handshake.
KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"
KEY3 = b"^n:ds[4U"
ANSWER = b"8jKS'y:G*Co,Wxa-"

EXAMPLE_HEAD = (
    "GET /demo HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Connection: Upgrade\r\n"
    f"Sec-WebSocket-Key2: {KEY2}\r\n"
    "Sec-WebSocket-Protocol: sample\r\n"
    "Upgrade: WebSocket\r\n"
    f"Sec-WebSocket-Key1: {KEY1}\r\n"
    "Origin: http://example.com\r\n"
    "\r\n"
).encode()

EXAMPLE_RESPONSE = (
    b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Origin: http://example.com\r\n"
    b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
    b"Sec-WebSocket-Protocol: sample\r\n"
    b"\r\n" + ANSWER
)


def request_with(**replace: str | None) -> hs.Request:
    """The example request, with headers replaced (None removes one)."""
    head = hs.parse_request(EXAMPLE_HEAD)
    headers = []
    for name, value in head.headers:
        if name in replace:
            new = replace[name]
            if new is not None:
                headers.append((name, new))
        else:
            headers.append((name, value))
    return hs.Request(
        head.method,
        head.target,
        head.path,
        head.query,
        head.http_version,
        tuple(headers),
    )


# --- The published vector ------------------------------------------------------


def test_key_numbers_of_the_example() -> None:
    # 4146546015 / 5 and 1299853100 / 5.
    assert key_number(KEY1) == 829309203
    assert key_number(KEY2) == 259970620


def test_challenge_response_of_the_example() -> None:
    assert challenge_response(key_number(KEY1), key_number(KEY2), KEY3) == ANSWER


def test_challenge_response_is_md5_of_the_packed_parts() -> None:
    expected = hashlib.md5(struct.pack(">II", 7, 0xFFFFFFFF) + b"12345678").digest()
    assert challenge_response(7, 0xFFFFFFFF, b"12345678") == expected


def test_the_example_request_gives_the_example_response_byte_for_byte() -> None:
    request = hs.parse_request(EXAMPLE_HEAD)
    assert is_hixie76_request(request)
    offer = validate_hixie76_request(request)
    assert offer == Hixie76Offer(
        part1=829309203,
        part2=259970620,
        host="example.com",
        resource="/demo",
        origin="http://example.com",
        subprotocol="sample",
    )
    response = build_hixie76_response(offer, KEY3, secure=False, subprotocol="sample")
    assert response == EXAMPLE_RESPONSE


def test_response_without_subprotocol_and_secure_location() -> None:
    offer = validate_hixie76_request(request_with(**{"Sec-WebSocket-Protocol": None}))
    response = build_hixie76_response(offer, KEY3, secure=True)
    head, _, answer = response.partition(b"\r\n\r\n")
    assert answer == ANSWER
    assert b"Sec-WebSocket-Location: wss://example.com/demo" in head
    assert b"Sec-WebSocket-Protocol" not in head


def test_location_keeps_the_query() -> None:
    head = EXAMPLE_HEAD.replace(b"GET /demo ", b"GET /demo?room=1 ")
    offer = validate_hixie76_request(hs.parse_request(head))
    assert offer.resource == "/demo?room=1"
    assert b"ws://example.com/demo?room=1\r\n" in build_hixie76_response(
        offer, KEY3, secure=False
    )


def test_response_refuses_a_subprotocol_not_offered() -> None:
    offer = validate_hixie76_request(hs.parse_request(EXAMPLE_HEAD))
    with pytest.raises(ValueError, match="not offered"):
        build_hixie76_response(offer, KEY3, secure=False, subprotocol="other")


# --- Detection -------------------------------------------------------------------


def test_detection() -> None:
    assert is_hixie76_request(request_with(**{"Sec-WebSocket-Key2": None}))
    assert not is_hixie76_request(
        request_with(**{"Sec-WebSocket-Key1": None, "Sec-WebSocket-Key2": None})
    )
    rfc = hs.parse_request(
        EXAMPLE_HEAD.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    )
    assert not is_hixie76_request(rfc)
    rfc = hs.parse_request(
        EXAMPLE_HEAD.replace(b"\r\n\r\n", b"\r\nsec-websocket-key: x\r\n\r\n")
    )
    assert not is_hixie76_request(rfc)


# --- Malformed keys and requests: 400 ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("1 2 3", "not a multiple"),  # 123 / 2 spaces
        ("123456", "no spaces"),
        ("  ", "no digits"),
        ("ab c", "no digits"),
        ("4294967296 ", "32 bits"),  # 2**32, one space
        ("99999999999 1", "32 bits"),
        ("1" * 100 + " ", "32 bits"),
        ("1 " * (MAX_KEY_LENGTH // 2 + 1), "longer than"),
        ("\u00b2 \u00b3", "no digits"),  # Latin-1 superscripts are not digits
        ("\uff11 ", "no digits"),  # nor are full-width ones
    ],
)
def test_malformed_keys_are_400(key: str, message: str) -> None:
    with pytest.raises(InvalidHandshake, match=message) as info:
        key_number(key)
    assert info.value.status_code == 400


def test_key_limits_are_inclusive() -> None:
    assert key_number("4294967295 ") == 0xFFFFFFFF  # one space
    assert key_number("0" * 50 + "12 ") == 12  # leading zeros are not digits too many
    assert key_number("0 ") == 0
    spaces = MAX_KEY_LENGTH - 3
    longest = f"{spaces}" + " " * spaces  # 125 and 125 spaces: 128 characters
    assert len(longest) == MAX_KEY_LENGTH
    assert key_number(longest) == 1


@pytest.mark.parametrize(
    ("replace", "status", "message"),
    [
        ({"Sec-WebSocket-Key1": "1 2 3"}, 400, "not a multiple"),
        ({"Sec-WebSocket-Key2": "12345"}, 400, "no spaces"),
        ({"Sec-WebSocket-Key2": None}, 400, "Sec-WebSocket-Key2"),
        ({"Sec-WebSocket-Key1": None}, 400, "Sec-WebSocket-Key1"),
        ({"Origin": None}, 400, "Origin"),
        ({"Host": None}, 400, "Host"),
        ({"Host": ""}, 400, "Host"),
        ({"Upgrade": "h2c"}, 400, "Upgrade"),
        ({"Connection": "keep-alive"}, 400, "Connection"),
    ],
)
def test_malformed_requests(
    replace: dict[str, str | None], status: int, message: str
) -> None:
    with pytest.raises(InvalidHandshake, match=message) as info:
        validate_hixie76_request(request_with(**replace))
    assert info.value.status_code == status


def test_repeated_key_is_400() -> None:
    head = EXAMPLE_HEAD.replace(
        b"\r\n\r\n", f"\r\nSec-WebSocket-Key1: {KEY1}\r\n\r\n".encode()
    )
    with pytest.raises(InvalidHandshake, match="repeated Sec-WebSocket-Key1") as info:
        validate_hixie76_request(hs.parse_request(head))
    assert info.value.status_code == 400


def test_post_is_405() -> None:
    head = EXAMPLE_HEAD.replace(b"GET ", b"POST ")
    with pytest.raises(InvalidHandshake) as info:
        validate_hixie76_request(hs.parse_request(head))
    assert info.value.status_code == 405


# --- key3 ---------------------------------------------------------------------------


def test_key3_reader_whole_with_trailing_frames() -> None:
    reader = Key3Reader()
    assert reader.feed(KEY3 + b"\x00hi\xff")
    assert reader.key3 == KEY3
    assert reader.trailing == b"\x00hi\xff"


def test_key3_reader_one_byte_at_a_time() -> None:
    reader = Key3Reader()
    data = KEY3 + b"\xff\x00"
    results = [reader.feed(data[i : i + 1]) for i in range(KEY3_LENGTH)]
    assert results == [False] * (KEY3_LENGTH - 1) + [True]
    assert reader.key3 == KEY3
    assert reader.trailing == b""


@given(st.binary(min_size=8, max_size=40), st.integers(min_value=1, max_value=40))
def test_key3_reader_chunking_invariance(data: bytes, size: int) -> None:
    reader = Key3Reader()
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    consumed = 0
    for chunk in chunks:
        consumed += len(chunk)
        if reader.feed(chunk):
            break
    assert reader.key3 == data[:8]
    assert reader.trailing == data[8:consumed]


def test_missing_key3_bytes_are_400() -> None:
    reader = Key3Reader()
    assert not reader.feed(KEY3[:5])
    assert not reader.complete
    with pytest.raises(RuntimeError):
        _ = reader.key3
    with pytest.raises(InvalidHandshake, match="5 of the 8 bytes") as info:
        reader.feed(b"")  # the client closed
    assert info.value.status_code == 400


def test_key3_reader_state_errors() -> None:
    reader = Key3Reader()
    reader.feed(KEY3)
    with pytest.raises(RuntimeError):
        reader.feed(b"x")


@pytest.mark.parametrize("key3", [b"", KEY3[:7], KEY3 + b"!"])
def test_challenge_needs_exactly_8_bytes(key3: bytes) -> None:
    with pytest.raises(InvalidHandshake, match="8 bytes") as info:
        challenge_response(1, 2, key3)
    assert info.value.status_code == 400


def test_challenge_parts_must_fit_32_bits() -> None:
    with pytest.raises(ValueError):
        challenge_response(2**32, 0, KEY3)
