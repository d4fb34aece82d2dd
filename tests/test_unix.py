"""Unix domain sockets on both sides: serve_websocket(unix_socket=...),
open_unix_listener, open_websocket_unix, and ``trio-ws serve/connect --unix``."""

from __future__ import annotations

import errno
import functools
import os
import signal
import socket
import ssl
import stat
from pathlib import Path

import pytest
import trio
import trustme

from trio_ws import (
    Request,
    Response,
    WebSocket,
    WebSocketServer,
    open_unix_listener,
    open_websocket_unix,
    open_websocket_url,
    serve_websocket,
)
from trio_ws._exceptions import RedirectError

from .conftest import TEST_TIMEOUT
from .test_cli import spawn

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "AF_UNIX"), reason="no Unix domain sockets here"
)


async def tell(ws: WebSocket) -> None:
    """Handler: sends back the Host and the resource, then echoes."""
    assert ws.request is not None
    await ws.send(f"{ws.request.get('host')} {ws.request.target}")
    async for message in ws:
        await ws.send(message)


@pytest.fixture
def sock_path(tmp_path: Path) -> str:
    return str(tmp_path / "ws.sock")


async def test_serve_and_connect_over_a_unix_socket(
    nursery: trio.Nursery, sock_path: str
) -> None:
    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, tell, unix_socket=sock_path)
    )
    assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
    async with open_websocket_unix(sock_path, "ws://app.internal/chat?r=1") as ws:
        assert await ws.receive() == "app.internal /chat?r=1"
        await ws.send("over unix")
        assert await ws.receive() == "over unix"
        assert ws.url == "ws://app.internal/chat?r=1"
        assert ws.remote is None  # no address/port on a Unix socket
    # Without a URL: ws://localhost/.
    async with open_websocket_unix(sock_path) as ws:
        assert await ws.receive() == "localhost /"
    with pytest.raises(RuntimeError, match="no TCP listener"):
        _ = server.port
    await server.aclose()
    assert not await trio.Path(sock_path).exists()  # the socket file is removed


async def test_tcp_and_unix_listeners_together(
    nursery: trio.Nursery, sock_path: str
) -> None:
    listeners = [
        *await trio.open_tcp_listeners(0, host="127.0.0.1"),
        await open_unix_listener(sock_path),
    ]
    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, tell, listeners=listeners)
    )
    async with open_websocket_unix(sock_path, "ws://u/") as ws:
        assert await ws.receive() == "u /"
    async with open_websocket_url(f"ws://127.0.0.1:{server.port}/t") as ws:
        assert await ws.receive() == f"127.0.0.1:{server.port} /t"


async def test_a_stale_socket_file_is_replaced(sock_path: str) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(sock_path)
    dead.close()  # the file stays: a server that died
    assert await trio.Path(sock_path).exists()
    listener = await open_unix_listener(sock_path)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(serve_websocket, tell, listeners=[listener])
            )
            async with open_websocket_unix(sock_path) as ws:
                assert await ws.receive() == "localhost /"
            nursery.cancel_scope.cancel()
    finally:
        await listener.aclose()


async def test_a_live_socket_and_other_files_are_never_removed(
    sock_path: str, tmp_path: Path
) -> None:
    live = await open_unix_listener(sock_path)
    try:
        with pytest.raises(OSError) as caught:
            await open_unix_listener(sock_path)
        assert caught.value.errno == errno.EADDRINUSE
    finally:
        await live.aclose()

    regular = tmp_path / "not-a-socket"
    regular.write_text("keep me")
    with pytest.raises(OSError) as caught:
        await open_unix_listener(regular)
    assert caught.value.errno == errno.EADDRINUSE
    assert regular.read_text() == "keep me"


async def test_close_leaves_a_successors_socket_alone(sock_path: str) -> None:
    first = await open_unix_listener(sock_path)
    os.unlink(sock_path)  # someone removed ours and bound a new one
    second = await open_unix_listener(sock_path)
    await first.aclose()
    assert await trio.Path(sock_path).exists()
    await second.aclose()
    assert not await trio.Path(sock_path).exists()


async def test_mode_sets_the_permissions(sock_path: str) -> None:
    listener = await open_unix_listener(sock_path, mode=0o600)
    try:
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
    finally:
        await listener.aclose()


async def test_connecting_to_nothing_raises(sock_path: str) -> None:
    with pytest.raises(FileNotFoundError):
        async with open_websocket_unix(sock_path):
            pass  # pragma: no cover


def test_unix_socket_goes_alone() -> None:
    with pytest.raises(TypeError, match="unix_socket"):
        trio.run(functools.partial(serve_websocket, tell, 8000, unix_socket="/x"))


async def test_wss_over_a_unix_socket(nursery: trio.Nursery, sock_path: str) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("app.example").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    await nursery.start(
        functools.partial(
            serve_websocket, tell, unix_socket=sock_path, ssl_context=server_context
        )
    )
    async with open_websocket_unix(
        sock_path, "wss://app.example/s", ssl_context=client_context
    ) as ws:
        assert await ws.receive() == "app.example /s"
    # The certificate is checked against the URL's host.
    with pytest.raises(ssl.SSLCertVerificationError):
        async with open_websocket_unix(
            sock_path, "wss://other.example/", ssl_context=client_context
        ):
            pass  # pragma: no cover


async def test_redirects_on_a_unix_socket_stay_on_its_host(
    nursery: trio.Nursery, sock_path: str
) -> None:
    def hook(request: Request) -> Response | None:
        if request.path == "/old":
            return Response(301, (("Location", "/new"),))
        if request.path == "/away":
            return Response(302, (("Location", "ws://elsewhere/"),))
        return None

    await nursery.start(
        functools.partial(
            serve_websocket, tell, unix_socket=sock_path, process_request=hook
        )
    )
    async with open_websocket_unix(sock_path, "ws://app/old") as ws:
        assert await ws.receive() == "app /new"
        assert ws.url == "ws://app/new"
    with pytest.raises(RedirectError, match="another host"):
        async with open_websocket_unix(sock_path, "ws://app/away"):
            pass  # pragma: no cover


async def test_cli_serve_and_connect_over_a_unix_socket(
    nursery: trio.Nursery, sock_path: str
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        server = await spawn(nursery, "serve", "--unix", sock_path)
        assert await server.line() == f"serving ws:// on unix:{sock_path}"
        client = await spawn(
            nursery, "connect", "--unix", sock_path, "ws://cli.host/echo?x=2"
        )
        await client.write("typed\n")
        assert await client.line() == "typed"
        await client.stderr_until("connected to ws://cli.host/echo?x=2 over")
        await server.stderr_until("connected to /echo")
        server.process.send_signal(signal.SIGINT)
        assert await server.wait() == 0
        assert await client.wait() == 0
    assert not await trio.Path(sock_path).exists()
