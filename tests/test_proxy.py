"""The client through real proxies: tinyproxy (HTTP CONNECT) and microsocks
(SOCKS5), each started by the test on a free loopback port.

Skipped, saying so, when a binary or the ``socks`` extra (python-socks) is
missing; ``python -m nox -s proxy`` installs the extra and runs these tests
(Debian: ``apt-get install tinyproxy microsocks``; .ci/run does it).
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trio
import trustme

from trio_ws import (
    ProxyError,
    ProxyRejected,
    Request,
    Response,
    WebSocketServer,
    open_websocket,
    open_websocket_url,
    reconnecting,
    serve_websocket,
)

from .conftest import TEST_TIMEOUT, echo_handler

TINYPROXY = shutil.which("tinyproxy") or (
    "/usr/bin/tinyproxy" if Path("/usr/bin/tinyproxy").exists() else None
)
MICROSOCKS = shutil.which("microsocks")

pytestmark = pytest.mark.proxy

# Attempts, POLL_INTERVAL seconds apart, to connect while a proxy starts.
STARTUP_POLLS = 200
POLL_INTERVAL = 0.025

USER, PASSWORD = "alice", "s3cret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    for _ in range(STARTUP_POLLS):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"{name} did not start on port {port}")


class Proxy:
    """A proxy process on 127.0.0.1:``port``; stopped by :meth:`stop`."""

    def __init__(self, scheme: str, port: int, process: subprocess.Popen[bytes]):
        self.scheme = scheme
        self.port = port
        self.process = process

    def url(self, credentials: str = "") -> str:
        at = f"{credentials}@" if credentials else ""
        return f"{self.scheme}://{at}127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class Tinyproxy(Proxy):
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path):
        super().__init__("http", port, process)
        self.log = log

    def connects(self) -> str:
        """The CONNECT lines of its log (what it was asked to tunnel to)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        requests = [line for line in text.splitlines() if "Request (" in line]
        return "\n".join(line for line in requests if ": CONNECT " in line)


StartTinyproxy = Callable[..., Tinyproxy]


@pytest.fixture
def start_tinyproxy(tmp_path: Path) -> Iterator[StartTinyproxy]:
    """Start tinyproxy in the foreground with a generated configuration."""
    if TINYPROXY is None:
        pytest.skip(
            "tinyproxy is not installed (Debian: apt-get install tinyproxy); "
            "python -m nox -s proxy runs these tests"
        )
    started: list[Proxy] = []

    def start(auth: bool = False, connect_ports: tuple[int, ...] = ()) -> Tinyproxy:
        assert TINYPROXY is not None
        port = free_port()
        log = tmp_path / f"tinyproxy-{port}.log"
        lines = [
            f"Port {port}",
            "Listen 127.0.0.1",
            "Allow 127.0.0.1",
            "Timeout 60",
            "MaxClients 50",
            "LogLevel Connect",
            f'LogFile "{log}"',
        ]
        # Without ConnectPort lines tinyproxy tunnels to any port.
        lines += [f"ConnectPort {p}" for p in connect_ports]
        if auth:
            lines.append(f"BasicAuth {USER} {PASSWORD}")
        conf = tmp_path / f"tinyproxy-{port}.conf"
        conf.write_text("\n".join(lines) + "\n")
        process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proxy = Tinyproxy(port, process, log)
        started.append(proxy)
        wait_listening(port, process, "tinyproxy")
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


StartMicrosocks = Callable[..., Proxy]


@pytest.fixture
def start_microsocks() -> Iterator[StartMicrosocks]:
    if MICROSOCKS is None:
        pytest.skip(
            "microsocks is not installed (Debian: apt-get install microsocks); "
            "python -m nox -s proxy runs these tests"
        )
    pytest.importorskip(
        "python_socks", reason="the socks extra (python-socks) is not installed"
    )
    started: list[Proxy] = []

    def start(auth: bool = False) -> Proxy:
        assert MICROSOCKS is not None
        port = free_port()
        command = [MICROSOCKS, "-i", "127.0.0.1", "-p", str(port)]
        if auth:
            command += ["-u", USER, "-P", PASSWORD]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proxy = Proxy("socks5h", port, process)
        started.append(proxy)
        wait_listening(port, process, "microsocks")
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[WebSocketServer]:
    """An echo server on 127.0.0.1 (ws://)."""
    started: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, echo_handler, 0, host="127.0.0.1")
    )
    yield started
    await started.aclose()


@pytest.fixture
async def tls_server(
    nursery: trio.Nursery, ca: trustme.CA
) -> AsyncIterator[WebSocketServer]:
    """An echo server on 127.0.0.1 (wss://, its certificate from ``ca``)."""
    started: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket,
            echo_handler,
            0,
            host="127.0.0.1",
            ssl_context=server_context(ca),
        )
    )
    yield started
    await started.aclose()


async def echo_through(url: str, proxy: str | None, **kwargs: object) -> int:
    """Open, echo one message, close; return the port the client's socket
    was connected to (the proxy's when it went through one)."""
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url, proxy=proxy, **kwargs) as ws:  # type: ignore[arg-type]
            await ws.send("through")
            assert await ws.receive() == "through"
            assert ws.remote is not None
            return ws.remote.port  # type: ignore[return-value]


# ------------------------------------------------------------ HTTP CONNECT


async def test_ws_through_tinyproxy(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy()
    url = f"ws://127.0.0.1:{server.port}/chat"
    assert await echo_through(url, proxy.url()) == proxy.port
    assert f"CONNECT 127.0.0.1:{server.port} HTTP/1.1" in proxy.connects()


async def test_wss_through_tinyproxy_is_tls_inside_the_tunnel(
    start_tinyproxy: StartTinyproxy,
    tls_server: WebSocketServer,
    client_context: ssl.SSLContext,
) -> None:
    proxy = start_tinyproxy()
    url = f"wss://127.0.0.1:{tls_server.port}/"
    port = await echo_through(url, proxy.url(), ssl_context=client_context)
    assert port == proxy.port
    assert f"CONNECT 127.0.0.1:{tls_server.port} HTTP/1.1" in proxy.connects()


async def test_host_and_port_form_takes_a_proxy(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy()
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket(
            "127.0.0.1", server.port, "/", proxy=proxy.url()
        ) as ws:
            await ws.send("x")
            assert await ws.receive() == "x"
            assert ws.remote is not None and ws.remote.port == proxy.port


async def test_basic_auth_accepted(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy(auth=True)
    url = f"ws://127.0.0.1:{server.port}/"
    assert await echo_through(url, proxy.url(f"{USER}:{PASSWORD}")) == proxy.port


async def test_no_credentials_is_a_407(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy(auth=True)
    with pytest.raises(ProxyRejected) as caught:
        await echo_through(f"ws://127.0.0.1:{server.port}/", proxy.url())
    assert caught.value.status_code == 407
    challenge = [
        v for k, v in caught.value.headers if k.lower() == "proxy-authenticate"
    ]
    assert challenge and challenge[0].startswith("Basic")
    assert caught.value.body  # tinyproxy's HTML error page


async def test_wrong_credentials_are_refused(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy(auth=True)
    with pytest.raises(ProxyRejected) as caught:
        await echo_through(f"ws://127.0.0.1:{server.port}/", proxy.url(f"{USER}:wrong"))
    # tinyproxy 1.11 answers wrong credentials with 401 (missing ones: 407).
    assert caught.value.status_code in (401, 407)


async def test_forbidden_port_refusal_carries_the_status(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy(connect_ports=(443,))
    with pytest.raises(ProxyRejected) as caught:
        await echo_through(f"ws://127.0.0.1:{server.port}/", proxy.url())
    assert caught.value.status_code == 403


async def test_unreachable_server_behind_the_proxy(
    start_tinyproxy: StartTinyproxy,
) -> None:
    proxy = start_tinyproxy()
    closed = free_port()  # nothing listens there
    with pytest.raises(ProxyRejected) as caught:
        await echo_through(f"ws://127.0.0.1:{closed}/", proxy.url())
    assert caught.value.status_code >= 500


async def test_unreachable_proxy_is_an_os_error(server: WebSocketServer) -> None:
    with pytest.raises(OSError):
        await echo_through(
            f"ws://127.0.0.1:{server.port}/", f"http://127.0.0.1:{free_port()}"
        )


async def test_each_redirect_is_tunnelled_anew(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer, nursery: trio.Nursery
) -> None:
    proxy = start_tinyproxy()
    target = f"ws://127.0.0.1:{server.port}/there"

    def elsewhere(request: Request) -> Response:
        return Response(302, (("Location", target),))

    redirector: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket,
            echo_handler,
            0,
            host="127.0.0.1",
            process_request=elsewhere,
        )
    )
    url = f"ws://127.0.0.1:{redirector.port}/here"
    assert await echo_through(url, proxy.url()) == proxy.port
    asked = proxy.connects()
    assert f"CONNECT 127.0.0.1:{redirector.port} " in asked
    assert f"CONNECT 127.0.0.1:{server.port} " in asked
    await redirector.aclose()


async def test_reconnecting_goes_through_the_proxy(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy()
    url = f"ws://127.0.0.1:{server.port}/"
    with trio.fail_after(TEST_TIMEOUT):
        async with reconnecting(url, proxy=proxy.url()) as connections:
            async for ws in connections:
                await ws.send("again")
                assert await ws.receive() == "again"
                assert ws.remote is not None and ws.remote.port == proxy.port
                break
    assert f"CONNECT 127.0.0.1:{server.port} " in proxy.connects()


# ------------------------------------------------- https:// proxy (TLS to it)


async def tls_front(
    task_status: trio.TaskStatus[int], *, context: ssl.SSLContext, backend: int
) -> None:
    """A TLS-terminating front for tinyproxy (which speaks no TLS): each
    connection's decrypted bytes go to 127.0.0.1:``backend`` and back."""

    async def forward(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
        try:
            while data := await source.receive_some():
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(sink)

    async def handle(client: trio.SSLStream[trio.SocketStream]) -> None:
        try:
            upstream = await trio.open_tcp_stream("127.0.0.1", backend)
        except OSError:
            await trio.aclose_forcefully(client)
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forward, client, upstream)
            nursery.start_soon(forward, upstream, client)

    listeners = await trio.open_ssl_over_tcp_listeners(0, context, host="127.0.0.1")
    port = listeners[0].transport_listener.socket.getsockname()[1]
    task_status.started(port)
    await trio.serve_listeners(handle, listeners)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
async def test_https_proxy_is_tls_to_the_proxy(
    start_tinyproxy: StartTinyproxy,
    server: WebSocketServer,
    tls_server: WebSocketServer,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    nursery: trio.Nursery,
    scheme: str,
) -> None:
    proxy = start_tinyproxy()
    front: int = await nursery.start(
        functools.partial(tls_front, context=server_context(ca), backend=proxy.port)
    )
    target = server if scheme == "ws" else tls_server
    url = f"{scheme}://127.0.0.1:{target.port}/"
    await echo_through(
        url,
        f"https://127.0.0.1:{front}",
        ssl_context=client_context,
        proxy_ssl_context=client_context,
    )
    assert f"CONNECT 127.0.0.1:{target.port} HTTP/1.1" in proxy.connects()


async def test_https_proxy_certificate_is_verified(
    start_tinyproxy: StartTinyproxy,
    server: WebSocketServer,
    ca: trustme.CA,
    nursery: trio.Nursery,
) -> None:
    proxy = start_tinyproxy()
    front: int = await nursery.start(
        functools.partial(tls_front, context=server_context(ca), backend=proxy.port)
    )
    # The default context does not trust the test CA.
    with pytest.raises(ssl.SSLCertVerificationError):
        await echo_through(
            f"ws://127.0.0.1:{server.port}/", f"https://127.0.0.1:{front}"
        )
    assert proxy.connects() == ""


# ------------------------------------------------------------- environment


async def test_environment_proxy_by_default(
    start_tinyproxy: StartTinyproxy,
    server: WebSocketServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = start_tinyproxy()
    # conftest.py has cleared every proxy variable.
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    url = f"ws://127.0.0.1:{server.port}/"
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(url) as ws:  # no proxy argument
            assert ws.remote is not None and ws.remote.port == proxy.port
        # proxy=None: directly, whatever the environment says.
        async with open_websocket_url(url, proxy=None) as ws:
            assert ws.remote is not None and ws.remote.port == server.port
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with open_websocket_url(url) as ws:
            assert ws.remote is not None and ws.remote.port == server.port
    assert proxy.connects().count(f"CONNECT 127.0.0.1:{server.port}") == 1


# ------------------------------------------------------------------- SOCKS


async def test_socks5_through_microsocks(
    start_microsocks: StartMicrosocks, server: WebSocketServer
) -> None:
    proxy = start_microsocks()
    url = f"ws://127.0.0.1:{server.port}/"
    assert await echo_through(url, proxy.url()) == proxy.port
    socks5 = f"socks5://127.0.0.1:{proxy.port}"
    assert await echo_through(url, socks5) == proxy.port


async def test_wss_through_socks5(
    start_microsocks: StartMicrosocks,
    tls_server: WebSocketServer,
    client_context: ssl.SSLContext,
) -> None:
    proxy = start_microsocks()
    url = f"wss://127.0.0.1:{tls_server.port}/"
    port = await echo_through(url, proxy.url(), ssl_context=client_context)
    assert port == proxy.port


async def test_socks5_with_credentials(
    start_microsocks: StartMicrosocks, server: WebSocketServer
) -> None:
    proxy = start_microsocks(auth=True)
    url = f"ws://127.0.0.1:{server.port}/"
    assert await echo_through(url, proxy.url(f"{USER}:{PASSWORD}")) == proxy.port
    with pytest.raises(ProxyError) as caught:
        await echo_through(url, proxy.url(f"{USER}:wrong"))
    assert not isinstance(caught.value, ProxyRejected)
    with pytest.raises(ProxyError):
        await echo_through(url, proxy.url())


async def test_socks5_refusal_is_a_proxy_error(
    start_microsocks: StartMicrosocks,
) -> None:
    proxy = start_microsocks()
    with pytest.raises(ProxyError, match="SOCKS"):
        await echo_through(f"ws://127.0.0.1:{free_port()}/", proxy.url())


class NoLocalDNS(trio.abc.HostnameResolver):
    """A resolver for which every name lookup fails (numeric addresses are
    never passed to it, so connecting to 127.0.0.1 still works)."""

    async def getaddrinfo(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
        raise socket.gaierror(socket.EAI_NONAME, "no local DNS in this test")

    async def getnameinfo(self, *args: object, **kwargs: object) -> tuple[str, str]:  # type: ignore[override]
        raise socket.gaierror(socket.EAI_NONAME, "no local DNS in this test")


async def test_socks5h_resolves_on_the_proxy(
    start_microsocks: StartMicrosocks, nursery: trio.Nursery
) -> None:
    proxy = start_microsocks()
    # The server listens on every address "localhost" has (the proxy
    # resolves the name itself and may pick either family).
    started: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, echo_handler, 0, host="localhost")
    )
    url = f"ws://localhost:{started.port}/"
    previous = trio.socket.set_custom_hostname_resolver(NoLocalDNS())
    try:
        # socks5h: the name goes to the proxy, which resolves it.
        assert await echo_through(url, proxy.url()) == proxy.port
        # socks5: the client resolves it first, and here it cannot.
        with pytest.raises(OSError, match="no local DNS"):
            await echo_through(url, f"socks5://127.0.0.1:{proxy.port}")
    finally:
        trio.socket.set_custom_hostname_resolver(previous)
    await started.aclose()


# -- SOCKS4a / SOCKS4 against an in-test server (microsocks speaks SOCKS5 only)


async def socks4_server(
    task_status: trio.TaskStatus[int], *, backend: int, seen: list[bytes]
) -> None:
    """A minimal SOCKS4/4a server (RFC-less; the 1996 SOCKS 4 and 4A notes)
    that records each request and tunnels to 127.0.0.1:``backend``."""

    async def handle(client: trio.SocketStream) -> None:
        request = b""
        # VN CD DSTPORT(2) DSTIP(4) USERID\0 [DOMAIN\0 when DSTIP is 0.0.0.x]
        while request.count(b"\0", 8) < (
            2 if len(request) >= 8 and request[4:7] == b"\0\0\0" else 1
        ):
            data = await client.receive_some()
            if not data:
                return
            request += data
        seen.append(request)
        upstream = await trio.open_tcp_stream("127.0.0.1", backend)
        await client.send_all(b"\x00\x5a" + bytes(6))

        async def forward(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
            try:
                while data := await source.receive_some():
                    await sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                await trio.aclose_forcefully(sink)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(forward, client, upstream)
            nursery.start_soon(forward, upstream, client)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handle, listeners)


@pytest.mark.skipif(
    importlib.util.find_spec("python_socks") is None,
    reason="the socks extra (python-socks) is not installed",
)
async def test_socks4a_sends_the_name_socks4_an_address(
    server: WebSocketServer, nursery: trio.Nursery
) -> None:
    seen: list[bytes] = []
    port: int = await nursery.start(
        functools.partial(socks4_server, backend=server.port, seen=seen)
    )
    # The fake tunnels to the server whatever the request names.
    url = f"ws://server.test:{server.port}/"
    assert await echo_through(url, f"socks4a://{USER}@127.0.0.1:{port}") == port
    assert seen[0].startswith(b"\x04\x01" + server.port.to_bytes(2, "big"))
    assert seen[0][4:7] == b"\0\0\0" and seen[0][7] != 0
    assert seen[0][8:].split(b"\0")[:2] == [USER.encode(), b"server.test"]
    ip_url = f"ws://127.0.0.1:{server.port}/"
    assert await echo_through(ip_url, f"socks4://127.0.0.1:{port}") == port
    assert seen[1][4:8] == bytes([127, 0, 0, 1])


# ---------------------------------------------------------------------- CLI


async def test_cli_connect_through_a_proxy(
    start_tinyproxy: StartTinyproxy, server: WebSocketServer
) -> None:
    proxy = start_tinyproxy(auth=True)
    url = f"ws://127.0.0.1:{server.port}/"
    command = [sys.executable, "-m", "trio_ws", "connect", url, "--wait", "1"]
    with trio.fail_after(TEST_TIMEOUT):
        ok = await trio.run_process(
            [*command, "--proxy", proxy.url(f"{USER}:{PASSWORD}")],
            stdin=b"via the proxy\n",
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        refused = await trio.run_process(
            [*command, "--proxy", proxy.url()],
            stdin=b"",
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert ok.returncode == 0, ok.stderr.decode()
    assert ok.stdout.decode().splitlines() == ["via the proxy"]
    assert f"CONNECT 127.0.0.1:{server.port}" in proxy.connects()
    assert refused.returncode == 1
    assert "HTTP 407" in refused.stderr.decode()
    assert b"Traceback" not in refused.stderr
