"""reconnecting(): a new connection each time the last is lost, with backoff;
retrying only what is worth it. The kill/restart test runs a real server
process (``python -m trio_ws serve``) and kills it with SIGKILL."""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import subprocess
import sys

import pytest
import trio
import trustme

import trio_ws
from trio_ws import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    InvalidHandshake,
    InvalidURL,
    Reconnecting,
    Request,
    Response,
    WebSocket,
    WebSocketServer,
    reconnecting,
    serve_websocket,
)
from trio_ws._exceptions import RedirectError

from .conftest import TEST_TIMEOUT
from .test_cli import ROOT

FAST = {"initial_delay": 0.02, "max_delay": 0.1}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def start(nursery: trio.Nursery, **kwargs: object) -> WebSocketServer:
    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, echo, 0, host="127.0.0.1", **kwargs)
    )
    return server


class ServerProcess:
    """``python -m trio_ws serve`` on a fixed port: start, kill -9, restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: trio.Process | None = None

    async def start(self) -> None:
        self.process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "trio_ws", "serve", "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        banner = await self.process.stdout.receive_some()
        assert b"serving on" in banner

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def test_kill_and_restart_a_real_server(nursery: trio.Nursery) -> None:
    server = ServerProcess(free_port())
    await server.start()
    seen: list[str] = []
    try:
        with trio.fail_after(TEST_TIMEOUT):
            async with reconnecting(
                f"ws://127.0.0.1:{server.port}/", **FAST
            ) as connections:
                async for ws in connections:
                    await ws.send(f"hello {connections.connections}")
                    seen.append(str(await ws.receive()))
                    if connections.connections == 3:
                        break
                    await server.kill()
                    with pytest.raises(ConnectionClosed):
                        await ws.receive()
                    assert ws.closed is not None and ws.closed.code == 1006

                    async def restart_later() -> None:
                        await trio.sleep(0.3)  # a few refused attempts meanwhile
                        await server.start()

                    nursery.start_soon(restart_later)
            failures = connections.failures
    finally:
        await server.kill()
    assert seen == ["hello 1", "hello 2", "hello 3"]
    assert failures >= 1  # attempts were refused while the server was down


async def test_leaving_the_block_closes_the_current_connection(
    nursery: trio.Nursery,
) -> None:
    closed: list[int | None] = []
    all_closed = trio.Event()

    async def record(ws: WebSocket) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.receive()
        closed.append(ws.closed.code if ws.closed else None)
        if len(closed) == 3:
            all_closed.set()

    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, record, 0, host="127.0.0.1")
    )
    url = f"ws://127.0.0.1:{server.port}/"
    async with reconnecting(url, **FAST) as connections:
        async for ws in connections:
            kept = ws
            break
    assert kept.closed is not None and kept.closed.code == 1000

    # An exception in the body leaves unchanged; the connection is closed.
    with pytest.raises(KeyError):
        async with reconnecting(url, **FAST) as connections:
            async for ws in connections:
                kept = ws
                raise KeyError("mine")
    assert kept.closed is not None
    # An outer cancellation leaves as a plain Cancelled (caught by the scope).
    with trio.move_on_after(0.2) as scope:
        async with reconnecting(url, **FAST) as connections:
            async for ws in connections:
                kept = ws
                await trio.sleep_forever()
    assert scope.cancelled_caught
    assert kept.closed is not None
    with trio.fail_after(TEST_TIMEOUT):
        await all_closed.wait()
    assert closed[0] == 1000


async def test_asking_for_the_next_closes_the_previous(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    previous: list[WebSocket] = []
    async with reconnecting(
        f"ws://127.0.0.1:{server.port}/", stable_after=0, **FAST
    ) as connections:
        async for ws in connections:
            previous.append(ws)
            if len(previous) == 2:
                break
    assert previous[0].closed is not None and previous[0].closed.code == 1000
    assert connections.connections == 2


async def test_5xx_is_retried_and_4xx_raised_at_once(nursery: trio.Nursery) -> None:
    answers = [Response(503), Response(502)]
    asked: list[str] = []

    def hook(request: Request) -> Response | None:
        asked.append(request.path)
        if request.path == "/forbidden":
            return Response(403)
        return answers.pop(0) if answers else None

    server = await start(nursery, process_request=hook)
    base = f"ws://127.0.0.1:{server.port}"
    async with reconnecting(f"{base}/flaky", **FAST) as connections:
        async for ws in connections:
            await ws.send("up")
            assert await ws.receive() == "up"
            break
    assert asked == ["/flaky"] * 3
    assert connections.failures == 2

    asked.clear()
    with pytest.raises(ConnectionRejected) as caught:
        async with reconnecting(f"{base}/forbidden", **FAST) as connections:
            async for _ in connections:
                pass  # pragma: no cover
    assert caught.value.status_code == 403
    assert asked == ["/forbidden"]


async def test_the_hook_decides(nursery: trio.Nursery) -> None:
    answers = [Response(429), Response(429)]
    server = await start(
        nursery, process_request=lambda r: answers.pop(0) if answers else None
    )
    seen: list[BaseException] = []

    def retry_429(exc: Exception) -> bool:
        seen.append(exc)
        if isinstance(exc, ConnectionRejected) and exc.status_code == 429:
            return True
        return Reconnecting.retryable(exc)

    async with reconnecting(
        f"ws://127.0.0.1:{server.port}/", should_retry=retry_429, **FAST
    ) as connections:
        async for _ in connections:
            break
    assert [getattr(e, "status_code", None) for e in seen] == [429, 429]

    # A hook saying no: the first 503 is raised.
    answers[:] = [Response(503)]
    with pytest.raises(ConnectionRejected):
        async with reconnecting(
            f"ws://127.0.0.1:{server.port}/", should_retry=lambda e: False, **FAST
        ) as connections:
            async for _ in connections:
                pass  # pragma: no cover


async def test_max_attempts_raises_the_last_error() -> None:
    port = free_port()  # nothing listens there
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(OSError, match="failed"):
        async with reconnecting(
            f"ws://127.0.0.1:{port}/", max_attempts=3, **FAST
        ) as connections:
            async for _ in connections:
                pass  # pragma: no cover
    assert connections.failures == 2  # two waits between the three attempts


async def test_tls_verification_failure_is_not_retried(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server = await start(nursery, ssl_context=server_context)
    with trio.fail_after(TEST_TIMEOUT), pytest.raises(ssl.SSLCertVerificationError):
        # The default context does not trust the test CA.
        async with reconnecting(f"wss://127.0.0.1:{server.port}/", **FAST) as conns:
            async for _ in conns:
                pass  # pragma: no cover
    assert conns.failures == 0


async def test_a_server_that_drops_at_once_is_not_hammered(
    nursery: trio.Nursery,
) -> None:
    async def drop(ws: WebSocket) -> None:
        await ws.aclose(1013, "try again later")

    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, drop, 0, host="127.0.0.1")
    )
    async with reconnecting(
        f"ws://127.0.0.1:{server.port}/", stable_after=60, **FAST
    ) as connections:
        async for ws in connections:
            with pytest.raises(ConnectionClosed):
                await ws.receive()
            if connections.connections == 4:
                break
    # Each of the 3 quick losses counted as a failure, with a wait.
    assert connections.failures == 3


def test_bare_async_for_explains_the_async_with() -> None:
    async def main() -> None:
        async for _ in reconnecting("ws://127.0.0.1:1/"):
            pass  # pragma: no cover

    with pytest.raises(TypeError, match=r"async with trio_ws\.reconnecting"):
        trio.run(main)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        reconnecting("ws://h/", initial_delay=0)
    with pytest.raises(ValueError):
        reconnecting("ws://h/", initial_delay=2, max_delay=1)
    with pytest.raises(ValueError):
        reconnecting("ws://h/", max_attempts=0)


async def test_an_invalid_url_is_raised_at_once() -> None:
    with pytest.raises(InvalidURL):
        async with reconnecting("http://example.com/", **FAST) as connections:
            async for _ in connections:
                pass  # pragma: no cover


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(), True),
        (ConnectionResetError(), True),
        (socket.gaierror(-3, "Temporary failure in name resolution"), True),
        (trio.BrokenResourceError(), True),
        (ConnectionTimeout("slow"), True),
        (ConnectionRejected(500), True),
        (ConnectionRejected(503), True),
        (ConnectionRejected(599), True),
        (ConnectionRejected(400), False),
        (ConnectionRejected(404), False),
        (ConnectionRejected(429), False),
        (RedirectError("too many", "ws://a/", "/b"), False),
        (InvalidHandshake("bad accept"), False),
        (ssl.SSLCertVerificationError(1, "verify failed"), False),
        (ssl.SSLEOFError(8, "EOF"), True),
        (InvalidURL("x"), False),
        (ValueError("x"), False),
    ],
)
def test_retryable(exc: Exception, expected: bool) -> None:
    assert trio_ws.Reconnecting.retryable(exc) is expected


def test_eof_during_the_handshake_is_retryable() -> None:
    try:
        raise InvalidHandshake("closed during the handshake") from EOFError()
    except InvalidHandshake as exc:
        assert Reconnecting.retryable(exc)
