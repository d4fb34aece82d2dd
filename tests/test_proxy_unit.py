"""Proxies without a proxy server: choosing the proxy (argument, environment),
the CONNECT request, and the error paths against small in-test fakes.

The tests against real proxies (tinyproxy, microsocks) are in test_proxy.py.
"""

from __future__ import annotations

import base64
import functools
import sys
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from trio_ws import (
    ConnectionTimeout,
    HandshakeError,
    InvalidURL,
    ProxyError,
    ProxyRejected,
    open_websocket_url,
)
from trio_ws._core._url import parse_url
from trio_ws.client._proxy import (
    PrefixedStream,
    ProxyRoute,
    ProxyURL,
    connect_request,
    open_http_tunnel,
    parse_proxy_url,
    proxy_from_environment,
)

from .conftest import PROXY_VARIABLES, TEST_TIMEOUT
from .test_cli import cli


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable set (conftest clears them too; this fixture says
    so where it matters), nor REQUEST_METHOD (urllib ignores HTTP_PROXY
    under CGI)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    return monkeypatch


# ------------------------------------------------------------- proxy URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://proxy:3128", ProxyURL("http", "proxy", 3128)),
        ("HTTP://Proxy.Example", ProxyURL("http", "proxy.example", 80)),
        ("https://proxy", ProxyURL("https", "proxy", 443)),
        ("proxy:8080", ProxyURL("http", "proxy", 8080)),
        ("socks5h://[::1]:1081", ProxyURL("socks5h", "::1", 1081)),
        ("socks4a://proxy", ProxyURL("socks4a", "proxy", 1080)),
        (
            "http://us%40er:p%3Ass@proxy:3128/",
            ProxyURL("http", "proxy", 3128, "us@er", "p:ss"),
        ),
        ("http://user@proxy", ProxyURL("http", "proxy", 80, "user", None)),
    ],
)
def test_parse_proxy_url(text: str, expected: ProxyURL) -> None:
    assert parse_proxy_url(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://proxy:21", "unsupported proxy scheme 'ftp'"),
        ("http://:3128", "no host"),
        ("http://proxy:99999", "invalid proxy URL"),
        ("http://proxy:port", "invalid proxy URL"),
    ],
)
def test_invalid_proxy_url(text: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        parse_proxy_url(text)


def test_password_is_not_in_the_repr() -> None:
    assert "secret" not in repr(parse_proxy_url("http://user:secret@proxy"))


def test_proxy_argument_is_checked_before_connecting() -> None:
    with pytest.raises(InvalidURL):
        ProxyRoute.of("gopher://proxy")
    with pytest.raises(TypeError, match="proxy must be"):
        ProxyRoute.of(42)  # type: ignore[arg-type]


async def test_open_websocket_url_checks_the_proxy_url() -> None:
    with pytest.raises(InvalidURL, match="unsupported proxy scheme"):
        async with open_websocket_url("ws://127.0.0.1:1/", proxy="ftp://p"):
            pass  # pragma: no cover


def test_socks_without_python_socks_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes the import fail, installed or not.
    monkeypatch.setitem(sys.modules, "python_socks", None)
    monkeypatch.setitem(sys.modules, "python_socks.async_", None)
    monkeypatch.setitem(sys.modules, "python_socks.async_.trio", None)
    with pytest.raises(ImportError, match=r"trio-ws\[socks\]"):
        ProxyRoute.of("socks5h://127.0.0.1:1080")


# ------------------------------------------------------- the environment

WS = parse_url("ws://server.test:8000/")
WSS = parse_url("wss://server.test/")


def test_no_variable_no_proxy(environment: pytest.MonkeyPatch) -> None:
    assert proxy_from_environment(WS) is None
    assert proxy_from_environment(WSS) is None


def test_https_proxy_for_wss_http_proxy_for_ws(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("https_proxy", "http://secure-proxy:3128")
    environment.setenv("http_proxy", "http://plain-proxy:3128")
    assert proxy_from_environment(WSS) == "http://secure-proxy:3128"
    assert proxy_from_environment(WS) == "http://plain-proxy:3128"


def test_http_proxy_is_not_used_for_wss(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HTTP_PROXY", "http://plain-proxy:3128")
    assert proxy_from_environment(WSS) is None
    assert proxy_from_environment(WS) == "http://plain-proxy:3128"


def test_https_proxy_serves_ws_too(environment: pytest.MonkeyPatch) -> None:
    # As websockets does: a CONNECT proxy set for https also tunnels ws://.
    environment.setenv("HTTPS_PROXY", "http://secure-proxy:3128")
    assert proxy_from_environment(WS) == "http://secure-proxy:3128"


def test_websocket_specific_variables_win(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("https_proxy", "http://secure-proxy:3128")
    environment.setenv("wss_proxy", "socks5h://ws-proxy:1080")
    environment.setenv("ws_proxy", "http://ws-proxy:8080")
    assert proxy_from_environment(WSS) == "socks5h://ws-proxy:1080"
    assert proxy_from_environment(WS) == "http://ws-proxy:8080"


def test_all_proxy_then_socks_proxy(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SOCKS_PROXY", "127.0.0.1:1080")
    assert proxy_from_environment(WS) == "socks5h://127.0.0.1:1080"
    environment.setenv("ALL_PROXY", "socks5://all-proxy:1080")
    assert proxy_from_environment(WSS) == "socks5://all-proxy:1080"


def test_lower_case_wins(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HTTPS_PROXY", "http://upper:1")
    environment.setenv("https_proxy", "http://lower:2")
    assert proxy_from_environment(WSS) == "http://lower:2"


@pytest.mark.parametrize(
    "no_proxy", ["server.test", ".test", "*", "other.test,server.test:8000"]
)
def test_no_proxy_bypasses(environment: pytest.MonkeyPatch, no_proxy: str) -> None:
    environment.setenv("http_proxy", "http://plain-proxy:3128")
    environment.setenv("no_proxy", no_proxy)
    assert proxy_from_environment(WS) is None


def test_no_proxy_for_another_host(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("http_proxy", "http://plain-proxy:3128")
    environment.setenv("no_proxy", "other.test,server.test:9999")
    assert proxy_from_environment(WS) == "http://plain-proxy:3128"


def test_no_proxy_with_an_ipv6_server(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("http_proxy", "http://plain-proxy:3128")
    environment.setenv("no_proxy", "[::1]")
    assert proxy_from_environment(parse_url("ws://[::1]:8000/")) is None


def test_route_from_the_environment_or_not(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("http_proxy", "http://user:pw@plain-proxy:3128")
    environment.setenv("no_proxy", "server.test")
    assert ProxyRoute.of(True).proxy_for(parse_url("ws://elsewhere.test/")) == (
        ProxyURL("http", "plain-proxy", 3128, "user", "pw")
    )
    # NO_PROXY applies to the environment's proxy only.
    assert ProxyRoute.of(True).proxy_for(WS) is None
    assert ProxyRoute.of("http://explicit:1").proxy_for(WS) == (
        ProxyURL("http", "explicit", 1)
    )
    # None: directly, whatever the environment says.
    assert ProxyRoute.of(None).proxy_for(parse_url("ws://elsewhere.test/")) is None


def test_invalid_environment_proxy_says_where_it_came_from(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("http_proxy", "gopher://proxy:70")
    with pytest.raises(InvalidURL, match=r"'gopher'.*from the environment"):
        ProxyRoute.of(True).proxy_for(WS)


# ------------------------------------------------------- the CONNECT request


def test_connect_request() -> None:
    proxy = parse_proxy_url("http://proxy:3128")
    assert connect_request(proxy, "server.test", 8000) == (
        b"CONNECT server.test:8000 HTTP/1.1\r\nHost: server.test:8000\r\n\r\n"
    )


def test_connect_request_brackets_ipv6() -> None:
    proxy = parse_proxy_url("http://proxy:3128")
    request = connect_request(proxy, "::1", 443)
    assert request.startswith(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n")


def test_connect_request_basic_auth_is_percent_decoded_utf8() -> None:
    proxy = parse_proxy_url("http://us%40er:p%C3%A4ss%3A@proxy:3128")
    request = connect_request(proxy, "server.test", 80)
    line = next(
        line for line in request.split(b"\r\n") if line.startswith(b"Proxy-Auth")
    )
    scheme, token = line.split(b": ")[1].split()
    assert scheme == b"Basic"
    assert base64.b64decode(token).decode("utf-8") == "us@er:päss:"


# ------------------------------------------------- against an in-test fake

Behaviour = Callable[[trio.SocketStream, bytes], Awaitable[None]]


async def read_request(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some()
        if not chunk:
            break
        data += chunk
    return data


class FakeProxy:
    """A TCP listener on 127.0.0.1 that reads one request head and then does
    what the test says; it remembers the requests it read."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            request = await read_request(stream)
            self.requests.append(request)
            await self.behaviour(stream, request)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


StartFake = Callable[[Behaviour], Awaitable[FakeProxy]]


@pytest.fixture
def start_fake(nursery: trio.Nursery) -> StartFake:
    async def start(behaviour: Behaviour) -> FakeProxy:
        proxy = FakeProxy(behaviour)
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, proxy.handle, 0, host="127.0.0.1")
        )
        proxy.port = listeners[0].socket.getsockname()[1]
        return proxy

    return start


def answer(data: bytes, then_wait: bool = False) -> Behaviour:
    """Send ``data`` after the request; then close (or wait, if asked)."""

    async def behaviour(stream: trio.SocketStream, request: bytes) -> None:
        await stream.send_all(data)
        if then_wait:
            await trio.sleep_forever()

    return behaviour


async def test_rejection_carries_status_headers_and_body(
    start_fake: StartFake,
) -> None:
    body = b"<h1>who are you?</h1>"
    proxy = await start_fake(
        answer(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="test"\r\n'
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body,
            then_wait=True,  # the body's length, not the close, ends it
        )
    )
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(ProxyRejected) as caught:
        async with open_websocket_url("ws://server.test:8000/", proxy=proxy.url):
            pass  # pragma: no cover
    error = caught.value
    assert error.status_code == 407
    assert ("Proxy-Authenticate", 'Basic realm="test"') in error.headers
    assert error.body == body
    assert "407" in str(error)
    assert isinstance(error, ProxyError) and isinstance(error, HandshakeError)
    assert proxy.requests[0].startswith(b"CONNECT server.test:8000 HTTP/1.1\r\n")


async def test_proxy_closing_before_answering(start_fake: StartFake) -> None:
    proxy = await start_fake(answer(b""))
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(ProxyError, match="closed"):
        async with open_websocket_url("ws://server.test/", proxy=proxy.url):
            pass  # pragma: no cover


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\nbare: lf\n\n",
        b"HTTP/2 200\r\n\r\n",
        b"x" * 70000,
    ],
    ids=["not-http", "bare-lf", "http2", "endless-head"],
)
async def test_proxy_speaking_garbage(start_fake: StartFake, garbage: bytes) -> None:
    proxy = await start_fake(answer(garbage, then_wait=True))
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(ProxyError) as caught:
        async with open_websocket_url("ws://server.test/", proxy=proxy.url):
            pass  # pragma: no cover
    assert "invalid" in str(caught.value)
    assert not isinstance(caught.value, ProxyRejected)


async def test_silent_proxy_is_bounded_by_open_timeout(
    start_fake: StartFake, autojump_clock: trio.testing.MockClock
) -> None:
    proxy = await start_fake(answer(b"", then_wait=True))
    with pytest.raises(ConnectionTimeout):
        async with open_websocket_url(
            "ws://server.test/", proxy=proxy.url, open_timeout=5
        ):
            pass  # pragma: no cover


async def test_bytes_after_the_answer_belong_to_the_tunnel(
    start_fake: StartFake,
) -> None:
    proxy = await start_fake(
        answer(b"HTTP/1.1 200 Connection established\r\n\r\nearly", then_wait=True)
    )
    with trio.fail_after(TEST_TIMEOUT):
        stream = await open_http_tunnel(parse_proxy_url(proxy.url), "server.test", 8000)
        async with stream:
            assert await stream.receive_some(3) == b"ear"
            assert await stream.receive_some() == b"ly"


async def test_connect_sends_proxy_authorization(start_fake: StartFake) -> None:
    proxy = await start_fake(answer(b"HTTP/1.1 200 OK\r\n\r\n", then_wait=True))
    url = f"http://alice:s%20cret@127.0.0.1:{proxy.port}"
    with trio.fail_after(TEST_TIMEOUT):
        stream = await open_http_tunnel(parse_proxy_url(url), "::1", 8000)
        await stream.aclose()
    request = proxy.requests[0]
    token = base64.b64encode(b"alice:s cret").decode()
    assert request == (
        b"CONNECT [::1]:8000 HTTP/1.1\r\nHost: [::1]:8000\r\n"
        + f"Proxy-Authorization: Basic {token}\r\n\r\n".encode()
    )


async def test_prefixed_stream_forwards_the_rest() -> None:
    left, right = trio.testing.memory_stream_pair()
    stream = PrefixedStream(left, b"abc")
    assert await stream.receive_some() == b"abc"
    await stream.send_all(b"out")
    assert await right.receive_some() == b"out"
    await right.send_all(b"in")
    assert await stream.receive_some() == b"in"
    await stream.send_eof()
    assert await right.receive_some() == b""
    await stream.aclose()


# ---------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "ftp://proxy:21"], "--proxy: unsupported proxy scheme 'ftp'"),
        (["--proxy", "http://proxy:3128", "--no-proxy"], "not allowed with"),
        (
            ["--proxy", "http://proxy:3128", "--unix", "/tmp/x.sock"],
            "--proxy and --unix do not go together",
        ),
    ],
)
def test_cli_proxy_arguments(args: list[str], message: str) -> None:
    result = cli("connect", "ws://server.test/", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------- reconnecting


def test_reconnecting_retries_a_proxys_5xx_only() -> None:
    from trio_ws import reconnecting

    retryable = reconnecting("ws://server.test/").retryable
    assert retryable(ProxyRejected(502))
    assert retryable(ProxyRejected(504))
    assert not retryable(ProxyRejected(407))
    assert not retryable(ProxyRejected(403))
    assert not retryable(ProxyError("the SOCKS proxy refused: bad credentials"))
