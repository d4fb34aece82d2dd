"""Tests for ws:// and wss:// URL parsing (trio_ws._core._url)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws._core._url import WebSocketURL, parse_url
from trio_ws._exceptions import InvalidURL, WebSocketError


def test_ws_defaults() -> None:
    url = parse_url("ws://example.com")
    assert url == WebSocketURL(
        scheme="ws", host="example.com", port=80, resource="/", secure=False
    )
    assert url.path == "/"
    assert url.query == ""
    assert url.host_header == "example.com"


def test_wss_defaults() -> None:
    url = parse_url("wss://example.com/")
    assert (url.scheme, url.port, url.secure) == ("wss", 443, True)
    assert url.host_header == "example.com"


def test_explicit_port_path_and_query() -> None:
    url = parse_url("ws://host:8080/chat?room=1")
    assert url.host == "host"
    assert url.port == 8080
    assert url.resource == "/chat?room=1"
    assert url.path == "/chat"
    assert url.query == "room=1"
    assert url.host_header == "host:8080"


@pytest.mark.parametrize(
    ("text", "host_header"),
    [
        ("ws://h:443/", "h:443"),  # 443 is only the default for wss
        ("wss://h:80/", "h:80"),
        ("ws://h:80/", "h"),
        ("wss://h:443/", "h"),
    ],
)
def test_host_header_omits_only_the_scheme_default_port(
    text: str, host_header: str
) -> None:
    assert parse_url(text).host_header == host_header


def test_scheme_is_case_insensitive_and_host_lower_cased() -> None:
    url = parse_url("WSS://Example.COM/Path")
    assert (url.scheme, url.host, url.secure) == ("wss", "example.com", True)
    assert url.resource == "/Path"  # the path stays case-sensitive


def test_query_without_path() -> None:
    url = parse_url("ws://h?x=1")
    assert url.resource == "/?x=1"
    assert url.path == "/"
    assert url.query == "x=1"


def test_ipv6_literal() -> None:
    url = parse_url("ws://[::1]:8000/x")
    assert (url.host, url.port, url.resource) == ("::1", 8000, "/x")
    assert url.host_header == "[::1]:8000"


def test_ipv6_literal_default_port_is_normalized() -> None:
    url = parse_url("wss://[2001:DB8:0::1]/")
    assert url.host == "2001:db8::1"
    assert url.port == 443
    assert url.host_header == "[2001:db8::1]"


def test_ipv4_host() -> None:
    assert parse_url("ws://127.0.0.1:9000").host_header == "127.0.0.1:9000"


def test_resource_is_percent_encoded_but_escapes_kept() -> None:
    url = parse_url("ws://h/a b/\u00e9?q=%20x")
    assert url.resource == "/a%20b/%C3%A9?q=%20x"


def test_non_ascii_host_is_idna_encoded() -> None:
    assert parse_url("ws://b\u00fccher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "example.com",
        "http://example.com/",
        "https://example.com/",
        "ftp://example.com/",
        "ws:/example.com/",
        "ws://",
        "ws:///path",
        "ws://:80/",
        "ws://h:abc/",
        "ws://h:/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://h:-1/",
        "ws://h: 80/",
        "ws://h:123456/",
        "ws://h/path#fragment",
        "ws://h#",
        "ws://user:pw@h/",
        "ws://user@h/",
        "ws://::1/",
        "ws://[::1/",
        "ws://[zz::1]/",
        "ws://[::1]x/",
        "ws://[::1]:/",
        "ws://[fe80::1%25eth0]/",
        "ws://exa mple.com/",
        "ws://h/\nGET",
        "ws://h\r/",
        "ws://h/\x00",
    ],
)
def test_invalid_urls(text: str) -> None:
    with pytest.raises(InvalidURL):
        parse_url(text)


@pytest.mark.parametrize("text", ["ws://user:pw@h/", "ws://user@h:80/"])
def test_user_information_is_rejected_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidURL, match="user information"):
        parse_url(text)


def test_invalid_url_is_a_value_error_and_a_websocket_error() -> None:
    with pytest.raises(ValueError, match="scheme") as info:
        parse_url("http://example.com/")
    assert isinstance(info.value, WebSocketError)


@given(st.text(max_size=60))
def test_arbitrary_text_is_parsed_or_rejected_with_invalid_url(text: str) -> None:
    try:
        url = parse_url(text)
    except InvalidURL:
        return
    assert url.scheme in ("ws", "wss")
    assert 0 < url.port < 65536
    assert url.resource.startswith("/")


_HOSTS = st.one_of(
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,5}){0,2}", fullmatch=True
    ),
    st.ip_addresses().map(str),
)


@given(
    scheme=st.sampled_from(["ws", "wss"]),
    host=_HOSTS,
    port=st.none() | st.integers(1, 65535),
    path=st.from_regex(r"(/[a-zA-Z0-9._~%-]{0,8}){0,3}", fullmatch=True),
    query=st.none() | st.from_regex(r"[a-z0-9=&]{0,10}", fullmatch=True),
)
def test_round_trip_through_host_header_and_resource(
    scheme: str, host: str, port: int | None, path: str, query: str | None
) -> None:
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    text = f"{scheme}://{authority}{path}" + ("" if query is None else f"?{query}")
    url = parse_url(text)
    assert url.port == (port or (443 if scheme == "wss" else 80))
    assert url.path == (path or "/")
    assert url.query == (query or "")
    assert parse_url(f"{scheme}://{url.host_header}{url.resource}") == url
