"""Tests for the sans-I/O opening handshake (trio_ws._core._handshake)."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws._core._handshake import (
    MAX_HEAD_SIZE,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    ClientOffer,
    Headers,
    HeadReader,
    Request,
    Response,
    accept_key,
    build_accept_response,
    build_http_response,
    build_request,
    encode_head,
    generate_key,
    get_header,
    header_tokens,
    is_upgrade_request,
    parse_request,
    parse_response,
    parse_url,
    response_body_length,
    validate_request,
    validate_response,
)
from trio_ws._exceptions import InvalidHandshake

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
UPGRADE_426 = (("Upgrade", "websocket"), ("Connection", "Upgrade"))

BASE_HEADERS: Headers = (
    ("Host", "example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
)


def head(
    headers: Headers = BASE_HEADERS, request_line: str = "GET /chat HTTP/1.1"
) -> bytes:
    """A request head as HeadReader.head gives it (no final CRLF CRLF)."""
    lines = [request_line, *(f"{name}: {value}" for name, value in headers)]
    return "\r\n".join(lines).encode("latin-1")


def without(name: str, headers: Headers = BASE_HEADERS) -> Headers:
    return tuple(h for h in headers if h[0].lower() != name.lower())


def replaced(name: str, value: str) -> Headers:
    return (*without(name), (name, value))


def status_of(data: bytes) -> int:
    with pytest.raises(InvalidHandshake) as info:
        validate_request(parse_request(data))
    return info.value.status_code


def response_head(headers: Headers, status_line: str = "HTTP/1.1 101 Hi") -> bytes:
    return head(headers, status_line)


GOOD_RESPONSE: Headers = (
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Accept", ACCEPT),
)


# --- Keys ---------------------------------------------------------------------


def test_accept_key_rfc_6455_section_1_3_vector() -> None:
    assert accept_key(KEY) == ACCEPT


def test_generate_key_is_base64_of_16_random_bytes() -> None:
    key = generate_key()
    assert len(base64.b64decode(key, validate=True)) == 16
    assert generate_key() != key


# --- Header helpers -------------------------------------------------------------


def test_get_header_is_case_insensitive_and_joins_repeats() -> None:
    headers = (("X-A", "1"), ("x-a", "2"), ("Other", "o"))
    assert get_header(headers, "X-A") == "1, 2"
    assert get_header(headers, "OTHER") == "o"
    assert get_header(headers, "missing") is None


def test_header_tokens() -> None:
    headers = (("Connection", " keep-alive, ,Upgrade "), ("connection", "Close"))
    assert header_tokens(headers, "CONNECTION") == ["keep-alive", "upgrade", "close"]
    assert header_tokens(headers, "Upgrade") == []


# --- HeadReader -----------------------------------------------------------------

WIRE = head() + b"\r\n\r\n" + b"\x81\x05hello"


def test_head_reader_whole() -> None:
    reader = HeadReader()
    assert reader.feed(WIRE) is True
    assert reader.complete
    assert reader.head == head()
    assert reader.trailing == b"\x81\x05hello"


def test_head_reader_one_byte_at_a_time_gives_the_same_result() -> None:
    whole = HeadReader()
    whole.feed(WIRE)
    reader = HeadReader()
    done = [reader.feed(WIRE[i : i + 1]) for i in range(len(head()) + 4)]
    assert done == [False] * (len(head()) + 3) + [True]  # True on the last LF
    position = len(head()) + 3
    assert reader.head == whole.head
    assert reader.trailing == b""
    assert WIRE[position + 1 :] == whole.trailing


def test_head_reader_state_errors() -> None:
    reader = HeadReader()
    assert reader.feed(b"GET / HTTP/1.1\r\n") is False
    assert reader.trailing == b""
    with pytest.raises(RuntimeError):
        _ = reader.head
    assert reader.feed(b"\r\n") is True
    assert reader.head == b"GET / HTTP/1.1"
    with pytest.raises(RuntimeError):
        reader.feed(b"more")


@given(st.lists(st.integers(0, len(WIRE)), max_size=8))
def test_head_reader_chunking_invariance(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(WIRE)]
    reader = HeadReader()
    done = False
    fed = 0
    for start, stop in itertools.pairwise(bounds):
        done = reader.feed(WIRE[start:stop])
        fed = stop
        if done:
            break
    assert done
    assert reader.head == head()
    assert reader.trailing == WIRE[len(head()) + 4 : fed]


def test_head_reader_bare_lf_is_400() -> None:
    reader = HeadReader()
    with pytest.raises(InvalidHandshake) as info:
        reader.feed(b"GET / HTTP/1.1\nHost: x\n\n")
    assert info.value.status_code == 400


def test_head_reader_bare_lf_split_across_feeds() -> None:
    reader = HeadReader()
    assert reader.feed(b"GET / HTTP/1.1\r") is False
    assert reader.feed(b"\nHost: x") is False  # CR then LF across feeds: fine
    with pytest.raises(InvalidHandshake) as info:
        reader.feed(b"\n")
    assert info.value.status_code == 400


@pytest.mark.parametrize("chunk", [1, 1000, 100_000])
def test_head_reader_request_line_too_long_is_414(chunk: int) -> None:
    data = b"GET /" + b"a" * MAX_REQUEST_LINE + b" HTTP/1.1\r\n"
    reader = HeadReader()
    with pytest.raises(InvalidHandshake) as info:
        for i in range(0, len(data), chunk):
            reader.feed(data[i : i + chunk])
    assert info.value.status_code == 414


def test_head_reader_request_line_at_the_limit_is_accepted() -> None:
    line = b"GET /" + b"a" * (MAX_REQUEST_LINE - len("GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == MAX_REQUEST_LINE
    reader = HeadReader()
    for byte in line + b"\r":
        assert reader.feed(bytes([byte])) is False
    assert reader.feed(b"\n\r\n") is True


@pytest.mark.parametrize("chunk", [1, 4096, 200_000])
def test_head_reader_head_too_large_is_431(chunk: int) -> None:
    data = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (MAX_HEAD_SIZE // 6 + 1)
    reader = HeadReader()
    with pytest.raises(InvalidHandshake) as info:
        for i in range(0, len(data), chunk):
            reader.feed(data[i : i + chunk])
    assert info.value.status_code == 431


def test_head_reader_head_of_exactly_max_size_is_accepted() -> None:
    start = b"GET / HTTP/1.1\r\nX: "
    data = start + b"y" * (MAX_HEAD_SIZE - len(start) - 4) + b"\r\n\r\n"
    assert len(data) == MAX_HEAD_SIZE
    assert HeadReader().feed(data) is True
    with pytest.raises(InvalidHandshake) as info:
        HeadReader().feed(data[:-4] + b"y\r\n\r\n")
    assert info.value.status_code == 431
    # MAX_HEAD_SIZE bytes without the terminator can no longer fit: fail now.
    reader = HeadReader()
    assert reader.feed(data[:-4]) is False
    with pytest.raises(InvalidHandshake) as info:
        reader.feed(b"yyyy")
    assert info.value.status_code == 431


# --- parse_request --------------------------------------------------------------


def test_parse_request() -> None:
    request = parse_request(head(request_line="GET /chat?room=1&x=2 HTTP/1.1"))
    assert request == Request(
        method="GET",
        target="/chat?room=1&x=2",
        path="/chat",
        query="room=1&x=2",
        http_version="HTTP/1.1",
        headers=BASE_HEADERS,
    )
    assert request.get("sec-websocket-key") == KEY


def test_parse_request_accepts_the_terminator() -> None:
    assert parse_request(head() + b"\r\n\r\n") == parse_request(head())
    assert parse_request(head() + b"\r\n") == parse_request(head())


def test_parse_request_strips_value_whitespace_and_keeps_latin1() -> None:
    request = parse_request(head((("X-Name", " \tcaf\xe9 \t"),)))
    assert request.headers == (("X-Name", "caf\u00e9"),)


def test_parse_request_absolute_form_target() -> None:
    request = parse_request(head(request_line="GET ws://h:1/p?q=1 HTTP/1.1"))
    assert (request.target, request.path, request.query) == (
        "ws://h:1/p?q=1",
        "/p",
        "q=1",
    )
    request = parse_request(head(request_line="GET http://h?q HTTP/1.1"))
    assert (request.path, request.query) == ("/", "q")


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/3.0"])
def test_other_http_versions_are_505(version: str) -> None:
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head(request_line=f"GET / {version}"))
    assert info.value.status_code == 505


@pytest.mark.parametrize(
    "request_line",
    [
        "GET / HTTP/1.1x",
        "GET / http/1.1",
        "GET / HTTP/11",
        "GET / HTTP/1.10",
        "GET / HTTQ/1.1",
        "GET /",
        "GET",
        "",
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ",
        "G(T / HTTP/1.1",
        "GET /a\x7fb HTTP/1.1",
        "GET /a\tb HTTP/1.1",
        "GET \xe9 HTTP/1.1",
        "GET * HTTP/1.1",
        "GET example.com:80 HTTP/1.1",
        "GET ftp://h/ HTTP/1.1",
    ],
)
def test_malformed_request_line_is_400(request_line: str) -> None:
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head(request_line=request_line))
    assert info.value.status_code == 400


def test_request_line_too_long_is_414() -> None:
    line = "GET /" + "a" * MAX_REQUEST_LINE + " HTTP/1.1"
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head(request_line=line))
    assert info.value.status_code == 414


def test_header_line_too_long_is_431() -> None:
    ok = ("X", "v" * (MAX_HEADER_LINE - 3))
    assert parse_request(head((*BASE_HEADERS, ok))).get("x") == ok[1]
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head((*BASE_HEADERS, ("X", "v" * (MAX_HEADER_LINE - 2)))))
    assert info.value.status_code == 431


def test_too_many_headers_is_431() -> None:
    many = tuple((f"X-{i}", "v") for i in range(MAX_HEADERS))
    assert len(parse_request(head(many)).headers) == MAX_HEADERS
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head((*many, ("X-Last", "v"))))
    assert info.value.status_code == 431


def test_head_too_large_is_431() -> None:
    big = tuple((f"X-{i}", "v" * 1100) for i in range(MAX_HEADERS // 2))
    assert len(head(big)) > MAX_HEAD_SIZE
    with pytest.raises(InvalidHandshake) as info:
        parse_request(head(big))
    assert info.value.status_code == 431


@pytest.mark.parametrize(
    "line",
    [
        "X-Control: a\x00b",
        "X-Control: a\x1bb",
        "X-Control: a\x7fb",
        "X-CR: a\rb",
        "X-LF: a\nb",
        "Bad Name: v",
        "Bad-Name : v",
        "(paren): v",
        ": no name",
        "no colon",
        "Caf\xe9: v",
        " folded continuation",
        "\tfolded continuation",
        "",
    ],
)
def test_malformed_header_is_400(line: str) -> None:
    data = head(request_line="GET / HTTP/1.1\r\nHost: h\r\n" + line)
    with pytest.raises(InvalidHandshake) as info:
        parse_request(data)
    assert info.value.status_code == 400


@pytest.mark.parametrize("line", [" X-Folded: v", "\tX-Folded: v"])
def test_obs_fold_is_400(line: str) -> None:
    with pytest.raises(InvalidHandshake, match="folding") as info:
        parse_request(head(request_line="GET / HTTP/1.1\r\nX: a\r\n" + line))
    assert info.value.status_code == 400


def test_tab_in_value_is_allowed() -> None:
    assert parse_request(head((("X", "a\tb"),))).get("x") == "a\tb"


# --- validate_request -----------------------------------------------------------


def test_validate_request() -> None:
    extra = (
        ("Sec-WebSocket-Protocol", "chat, Superchat"),
        ("Sec-WebSocket-Protocol", "v2"),
        ("Sec-WebSocket-Extensions", 'permessage-deflate; x="a,b", foo'),
        ("Sec-WebSocket-Extensions", "bar;baz=1"),
        ("Origin", "https://example.com"),
    )
    offer = validate_request(parse_request(head((*BASE_HEADERS, *extra))))
    assert offer == ClientOffer(
        key=KEY,
        subprotocols=("chat", "Superchat", "v2"),
        extensions=('permessage-deflate; x="a,b"', "foo", "bar;baz=1"),
        origin="https://example.com",
    )


def test_minimal_offer_has_empty_defaults() -> None:
    offer = validate_request(parse_request(head()))
    assert (offer.subprotocols, offer.extensions, offer.origin) == ((), (), None)


def test_header_names_and_tokens_are_case_insensitive() -> None:
    headers = (
        ("HOST", "h"),
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, UPGRADE"),
        ("sec-websocket-key", KEY),
        ("SEC-WEBSOCKET-VERSION", "13"),
    )
    assert validate_request(parse_request(head(headers))).key == KEY


def test_connection_keep_alive_upgrade_is_accepted() -> None:
    request = parse_request(head(replaced("Connection", "keep-alive, Upgrade")))
    assert validate_request(request).key == KEY


@pytest.mark.parametrize("method", ["POST", "HEAD", "get", "PUT"])
def test_method_not_get_is_405(method: str) -> None:
    with pytest.raises(InvalidHandshake) as info:
        validate_request(parse_request(head(request_line=f"{method} / HTTP/1.1")))
    assert info.value.status_code == 405
    assert info.value.headers == (("Allow", "GET"),)


@pytest.mark.parametrize(
    "headers",
    [
        without("Upgrade"),
        replaced("Upgrade", "h2c"),
        replaced("Upgrade", "websockets"),
        without("Connection"),
        replaced("Connection", "keep-alive"),
        replaced("Connection", "upgraded"),
    ],
)
def test_missing_upgrade_or_connection_is_426(headers: Headers) -> None:
    with pytest.raises(InvalidHandshake) as info:
        validate_request(parse_request(head(headers)))
    assert info.value.status_code == 426
    assert ("Upgrade", "websocket") in info.value.headers
    assert info.value.headers == UPGRADE_426


@pytest.mark.parametrize(
    "headers",
    [without("Host"), replaced("Host", ""), (*BASE_HEADERS, ("Host", "other"))],
)
def test_missing_or_repeated_host_is_400(headers: Headers) -> None:
    assert status_of(head(headers)) == 400


@pytest.mark.parametrize(
    "headers",
    [
        without("Sec-WebSocket-Key"),
        (*BASE_HEADERS, ("Sec-WebSocket-Key", KEY)),  # duplicated
        replaced("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ=="),  # 10 bytes: too short
        replaced("Sec-WebSocket-Key", base64.b64encode(b"x" * 17).decode()),
        replaced("Sec-WebSocket-Key", "not base64 at all!!!!!!="),
        replaced("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"),  # no padding
        replaced("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==, x"),
        replaced("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ\xe9=="),
        replaced("Sec-WebSocket-Key", ""),
    ],
)
def test_bad_key_is_400(headers: Headers) -> None:
    assert status_of(head(headers)) == 400


@pytest.mark.parametrize(
    "headers",
    [
        without("Sec-WebSocket-Version"),
        replaced("Sec-WebSocket-Version", "8"),
        replaced("Sec-WebSocket-Version", "13, 8"),
        (*BASE_HEADERS, ("Sec-WebSocket-Version", "13")),
    ],
)
def test_bad_version_is_426_with_supported_version(headers: Headers) -> None:
    with pytest.raises(InvalidHandshake) as info:
        validate_request(parse_request(head(headers)))
    assert info.value.status_code == 426
    assert info.value.headers == (("Sec-WebSocket-Version", "13"),)


def test_check_order() -> None:
    # Method first, then Upgrade/Connection, then Host, Key and Version.
    nothing: Headers = ()
    assert status_of(head(nothing, "POST / HTTP/1.1")) == 405
    assert status_of(head(without("Host", without("Upgrade")))) == 426
    no_host_key = without("Host", without("Sec-WebSocket-Key"))
    with pytest.raises(InvalidHandshake, match="Host"):
        validate_request(parse_request(head(no_host_key)))
    bad_key_and_version = without("Sec-WebSocket-Version", without("Sec-WebSocket-Key"))
    assert status_of(head(bad_key_and_version)) == 400


def test_is_upgrade_request() -> None:
    assert is_upgrade_request(parse_request(head(replaced("Upgrade", "WEBSOCKET"))))
    assert not is_upgrade_request(parse_request(head(without("Upgrade"))))
    assert not is_upgrade_request(parse_request(head(replaced("Upgrade", "h2c"))))


# --- Building responses ---------------------------------------------------------


def test_build_accept_response() -> None:
    offer = ClientOffer(key=KEY, subprotocols=("a", "b"))
    data = build_accept_response(
        offer,
        subprotocol="b",
        extensions="x; y=1",
        extra_headers=(("Set-Cookie", "s=1"),),
    )
    assert data == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: b\r\nSec-WebSocket-Extensions: x; y=1\r\n"
        b"Set-Cookie: s=1\r\n\r\n"
    )
    assert b"Sec-WebSocket-Protocol" not in build_accept_response(offer)


def test_build_accept_response_refuses_bad_arguments() -> None:
    offer = ClientOffer(key=KEY, subprotocols=("a",))
    with pytest.raises(ValueError, match="not offered"):
        build_accept_response(offer, subprotocol="z")
    with pytest.raises(ValueError, match="may not set"):
        build_accept_response(offer, extra_headers=(("sec-websocket-accept", "x"),))
    with pytest.raises(ValueError):
        build_accept_response(offer, extra_headers=(("X", "a\r\nEvil: 1"),))
    with pytest.raises(ValueError):
        build_accept_response(offer, extensions="a\nb")


def test_build_http_response_defaults() -> None:
    assert build_http_response(404, body=b"nope") == (
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nnope"
    )
    assert build_http_response(200) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert build_http_response(599).startswith(b"HTTP/1.1 599 \r\n")


def test_build_http_response_keeps_given_headers() -> None:
    data = build_http_response(
        200,
        (
            ("content-type", "text/html"),
            ("connection", "keep-alive"),
            ("Content-Length", "2"),
        ),
        b"hi",
    )
    assert data.count(b"ontent-Type") + data.count(b"ontent-type") == 1
    assert b"close" not in data
    assert data.lower().count(b"content-length") == 1
    assert data.endswith(b"\r\n\r\nhi")


def test_build_http_response_no_body_statuses() -> None:
    assert b"Content-Length" not in build_http_response(204)
    with pytest.raises(ValueError):
        build_http_response(304, body=b"x")


@pytest.mark.parametrize(
    "headers",
    [
        (("X-Evil", "a\r\nSet-Cookie: pwned=1"),),
        (("X-Evil", "a\nb"),),
        (("X-Evil", "a\rb"),),
        (("X-Evil", "a\x00b"),),
        (("X-Evil\r\nSet-Cookie", "x"),),
        (("X Evil", "x"),),
        (("", "x"),),
        (("X-Uni", "\u2603"),),
        (("Content-Length", "5"),),  # does not match the body
    ],
)
def test_build_http_response_refuses_injection(headers: Headers) -> None:
    with pytest.raises(ValueError):
        build_http_response(403, headers, b"no")


@pytest.mark.parametrize("code", [99, 600, 0, -1])
def test_build_http_response_status_range(code: int) -> None:
    with pytest.raises(ValueError):
        build_http_response(code)


def test_build_http_response_parses_back() -> None:
    data = build_http_response(401, (("WWW-Authenticate", "Basic"),), b"who?")
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    response = parse_response(head_bytes)
    assert (response.status_code, response.reason) == (401, "Unauthorized")
    assert response_body_length(response) == len(body) == 4


# --- Client side ----------------------------------------------------------------


def test_build_request() -> None:
    url = parse_url("ws://example.com:8080/chat?room=1")
    data = build_request(
        url,
        KEY,
        subprotocols=["chat", "v2"],
        extensions=["permessage-deflate; client_max_window_bits"],
        extra_headers=(("Authorization", "Bearer t"),),
        origin="https://example.com",
    )
    assert data == (
        b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Origin: https://example.com\r\nSec-WebSocket-Protocol: chat, v2\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        b"Authorization: Bearer t\r\n\r\n"
    )


def test_build_request_minimal() -> None:
    data = build_request(parse_url("wss://[::1]/"), KEY)
    assert data.startswith(b"GET / HTTP/1.1\r\nHost: [::1]\r\n")
    assert b"Origin" not in data
    assert b"Sec-WebSocket-Protocol" not in data


@pytest.mark.parametrize(
    "name",
    ["Host", "upgrade", "CONNECTION", "Sec-WebSocket-Key", "sec-websocket-version"],
)
def test_build_request_extra_headers_cannot_override(name: str) -> None:
    with pytest.raises(ValueError, match="may not set"):
        build_request(parse_url("ws://h/"), KEY, extra_headers=((name, "x"),))


def test_build_request_origin_in_extra_headers() -> None:
    url = parse_url("ws://h/")
    data = build_request(url, KEY, extra_headers=(("Origin", "https://o"),))
    assert b"\r\nOrigin: https://o\r\n" in data
    with pytest.raises(ValueError):
        build_request(url, KEY, origin="https://a", extra_headers=(("Origin", "b"),))


def test_build_request_refuses_injection_and_bad_subprotocols() -> None:
    url = parse_url("ws://h/")
    with pytest.raises(ValueError):
        build_request(url, KEY, extra_headers=(("X", "1\r\nHost: evil"),))
    with pytest.raises(ValueError):
        build_request(url, KEY, origin="https://o\r\nX: 1")
    with pytest.raises(ValueError):
        build_request(url, KEY, subprotocols=["a b"])
    with pytest.raises(ValueError):
        build_request(url, KEY, subprotocols=["a,b"])
    forged = type(url)("ws", "h", 80, "/\r\nX: 1", False)
    with pytest.raises(ValueError):
        build_request(forged, KEY)


def test_full_round_trip_with_subprotocols() -> None:
    url = parse_url("ws://example.com/chat?room=1")
    key = generate_key()
    offered = ["chat.v2", "chat.v1"]
    # Client -> server.
    server_reader = HeadReader()
    assert server_reader.feed(build_request(url, key, subprotocols=offered))
    request = parse_request(server_reader.head)
    assert (request.path, request.query) == ("/chat", "room=1")
    offer = validate_request(request)
    assert offer.key == key
    assert offer.subprotocols == tuple(offered)
    # Server -> client, with a first frame right behind the 101.
    reply = build_accept_response(offer, subprotocol="chat.v1") + b"\x81\x02hi"
    client_reader = HeadReader()
    assert client_reader.feed(reply)
    assert client_reader.trailing == b"\x81\x02hi"
    response = parse_response(client_reader.head)
    assert response.status_code == 101
    accepted = validate_response(response, key=key, subprotocols=offered)
    assert accepted.subprotocol == "chat.v1"
    assert accepted.extensions is None


def test_round_trip_with_extensions() -> None:
    offer = ClientOffer(key=KEY, extensions=("permessage-deflate",))
    response = parse_response(
        build_accept_response(offer, extensions="permessage-deflate")
    )
    accepted = validate_response(
        response, key=KEY, subprotocols=(), extensions=["permessage-deflate"]
    )
    assert accepted.extensions == "permessage-deflate"
    assert accepted.subprotocol is None


def test_parse_response() -> None:
    response = parse_response(
        response_head((("Content-Length", "3"),), "HTTP/1.0 403 Go away now")
    )
    assert response == Response(
        403, "Go away now", "HTTP/1.0", (("Content-Length", "3"),)
    )
    assert response.get("content-length") == "3"
    assert parse_response(b"HTTP/1.1 101").reason == ""


@pytest.mark.parametrize(
    "status_line",
    [
        "HTTP/2 101 X",
        "HTTP/1.1 1O1 X",
        "HTTP/1.1 10 X",
        "HTTP/1.1 1011 X",
        "HTTP/1.1 \xb9\xb2\xb3 X",  # superscript digits: str.isdigit() is True
        "HTTP/1.1",
        "ICY 200 OK",
        "",
        "HTTP/1.1 101 a\x00b",
    ],
)
def test_parse_response_malformed(status_line: str) -> None:
    with pytest.raises(InvalidHandshake):
        parse_response(response_head(GOOD_RESPONSE, status_line))


def test_parse_response_applies_header_validation_and_limits() -> None:
    with pytest.raises(InvalidHandshake):
        parse_response(response_head((*GOOD_RESPONSE, ("Bad Name", "x"))))
    with pytest.raises(InvalidHandshake):
        parse_response(response_head((*GOOD_RESPONSE, ("X", "a\rb"))))
    many = tuple(("X", "v") for _ in range(MAX_HEADERS + 1))
    with pytest.raises(InvalidHandshake):
        parse_response(response_head(many))


def test_validate_response_accepts_a_good_response() -> None:
    response = parse_response(response_head(GOOD_RESPONSE))
    accepted = validate_response(response, key=KEY, subprotocols=["a"])
    assert (accepted.subprotocol, accepted.extensions) == (None, None)


@pytest.mark.parametrize(
    ("headers", "status_line", "match"),
    [
        (GOOD_RESPONSE, "HTTP/1.1 200 OK", "101"),
        (GOOD_RESPONSE, "HTTP/1.0 101 X", "HTTP/1.0"),
        (without("Upgrade", GOOD_RESPONSE), "HTTP/1.1 101 X", "Upgrade"),
        (
            (("Upgrade", "h2c"), *without("Upgrade", GOOD_RESPONSE)),
            "HTTP/1.1 101 X",
            "Upgrade",
        ),
        (without("Connection", GOOD_RESPONSE), "HTTP/1.1 101 X", "Connection"),
        (without("Sec-WebSocket-Accept", GOOD_RESPONSE), "HTTP/1.1 101 X", "Accept"),
        (
            (
                *without("Sec-WebSocket-Accept", GOOD_RESPONSE),
                ("Sec-WebSocket-Accept", "x"),
            ),
            "HTTP/1.1 101 X",
            "Accept",
        ),
        (
            (*GOOD_RESPONSE, ("Sec-WebSocket-Accept", ACCEPT)),
            "HTTP/1.1 101 X",
            "Accept",
        ),
        (
            (*GOOD_RESPONSE, ("Sec-WebSocket-Protocol", "other")),
            "HTTP/1.1 101 X",
            "unoffered",
        ),
        (
            (*GOOD_RESPONSE, ("Sec-WebSocket-Protocol", "CHAT")),
            "HTTP/1.1 101 X",
            "unoffered",
        ),
        (
            (*GOOD_RESPONSE, ("Sec-WebSocket-Protocol", "chat, v2")),
            "HTTP/1.1 101 X",
            "more than one",
        ),
        (
            (*GOOD_RESPONSE, ("Sec-WebSocket-Extensions", "permessage-deflate")),
            "HTTP/1.1 101 X",
            "extensions",
        ),
    ],
)
def test_validate_response_failures(
    headers: Headers, status_line: str, match: str
) -> None:
    response = parse_response(response_head(headers, status_line))
    with pytest.raises(InvalidHandshake, match=match):
        validate_response(response, key=KEY, subprotocols=["chat", "v2"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        ("0", 0),
        (None, None),
        ("", None),
        ("abc", None),
        ("-1", None),
        ("+1", None),
        ("1, 1", None),
        ("\xb2", None),
        ("9" * 20, None),
    ],
)
def test_response_body_length(value: str | None, expected: int | None) -> None:
    headers: Headers = () if value is None else (("Content-Length", value),)
    assert response_body_length(Response(403, "", "HTTP/1.1", headers)) == expected


# --- Hostile input --------------------------------------------------------------


def _server_side(data: bytes) -> None:
    reader = HeadReader()
    if reader.feed(data):
        request = parse_request(reader.head)
        validate_request(request)
        is_upgrade_request(request)


@given(st.binary(max_size=2000))
def test_garbage_bytes_only_raise_invalid_handshake(data: bytes) -> None:
    try:
        _server_side(data)
    except InvalidHandshake as exc:
        assert exc.status_code in (400, 405, 414, 426, 431, 505)


_LINE = st.one_of(
    st.sampled_from([f"{name}: {value}" for name, value in BASE_HEADERS]),
    st.text(st.characters(max_codepoint=255), max_size=40),
    st.builds(
        "{}: {}".format,
        st.sampled_from(["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "X"]),
        st.text(st.characters(max_codepoint=255), max_size=30),
    ),
)


@given(
    st.sampled_from(["GET / HTTP/1.1", "GET /x?y HTTP/1.0", "POST / HTTP/1.1"])
    | st.text(st.characters(max_codepoint=255), max_size=30),
    st.lists(_LINE, max_size=10),
)
def test_garbage_heads_only_raise_invalid_handshake(
    first: str, lines: list[str]
) -> None:
    data = "\r\n".join([first, *lines, "", ""]).encode("latin-1")
    for side in (_server_side, parse_response):
        try:
            side(data)
        except InvalidHandshake as exc:  # anything else fails the test
            assert 400 <= exc.status_code < 600


@given(st.binary(min_size=16, max_size=16))
def test_precomputed_101_equals_the_general_head(nonce: bytes) -> None:
    # build_accept_response's fast path (no extras) must be byte-identical to
    # the head the general path builds, for any key.
    key = base64.b64encode(nonce).decode()
    offer = ClientOffer(key=key)
    general = encode_head(
        "HTTP/1.1 101 Switching Protocols",
        (
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_key(key)),
        ),
    )
    assert build_accept_response(offer) == general
    assert build_accept_response(offer, extra_headers=(("X-A", "1"),)).startswith(
        general[:-2]
    )


def test_request_header_lookup_is_case_insensitive_and_joins_repeats() -> None:
    request = parse_request(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-List: 1\r\nx-list: 2\r\nOrigin: o"
    )
    assert request.get("x-LIST") == "1, 2"
    assert request.values("X-List") == ["1", "2"]
    assert request.get("origin") == "o"
    assert request.get("Missing") is None and request.values("Missing") == []
    assert request.get("X-List") == get_header(request.headers, "X-List")
