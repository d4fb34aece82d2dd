"""The ``trio-ws`` command line, run as a real process (``python -m trio_ws``).

Servers listen on 127.0.0.1 with port 0; every wait is bounded by TEST_TIMEOUT.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trustme

import trio_ws
from trio_ws import (
    CloseReason,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)
from trio_ws._cli import LineReader, describe, main
from trio_ws._core import IMPLEMENTATION

from .conftest import TEST_TIMEOUT, http_exchange

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the command line to completion (for the ones that need no server)."""
    return subprocess.run(
        [sys.executable, "-m", "trio_ws", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT,
        cwd=ROOT,
    )


class Spawned:
    """A running ``python -m trio_ws`` process with line-wise stdout/stderr."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stdout = bytearray()
        self.stderr = bytearray()

    async def write(self, text: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(text.encode())

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()

    async def line(self) -> str:
        """The next line of standard output."""
        stream = self.process.stdout
        assert stream is not None
        while b"\n" not in self.stdout:
            data = await stream.receive_some()
            assert data, f"stdout ended; stderr: {self.stderr.decode()}"
            self.stdout += data
        line, _, rest = bytes(self.stdout).partition(b"\n")
        self.stdout[:] = rest
        return line.decode()

    async def stderr_until(self, text: str) -> str:
        """Read standard error until it contains ``text``; return all of it."""
        stream = self.process.stderr
        assert stream is not None
        while text.encode() not in self.stderr:
            data = await stream.receive_some()
            assert data, f"stderr ended without {text!r}: {self.stderr.decode()}"
            self.stderr += data
        return self.stderr.decode()

    async def wait(self) -> int:
        """Wait for the exit; return the status (stderr is read to its end)."""
        stream = self.process.stderr
        assert stream is not None
        while data := await stream.receive_some():
            self.stderr += data
        return await self.process.wait()


async def spawn(nursery: trio.Nursery, *args: str) -> Spawned:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_ws", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )

    async def reap() -> None:
        # Never leave a process behind, whatever the test did.
        try:
            await trio.sleep_forever()
        finally:
            if process.returncode is None:
                process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()

    nursery.start_soon(reap)
    return Spawned(process)


class Recorder:
    """A server handler: echo, and remember how each connection closed."""

    def __init__(self) -> None:
        self.connections: list[WebSocket] = []
        self.closed: list[CloseReason | None] = []
        self.arrived = trio.Event()
        self.done = trio.Event()

    async def handler(self, ws: WebSocket) -> None:
        self.connections.append(ws)
        self.arrived.set()
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            self.closed.append(ws.closed)
            self.done.set()


@pytest.fixture
async def recorder(nursery: trio.Nursery) -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket,
            recorder.handler,
            0,
            host="127.0.0.1",
            subprotocols=("chat.v2", "chat.v1"),
        )
    )
    yield recorder, f"ws://127.0.0.1:{server.port}/room?x=1"
    await server.aclose()


# ------------------------------------------------------------ no server needed


def test_help_names_each_subcommand_with_examples() -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "connect" in result.stdout and "serve" in result.stdout
    assert "usage: python -m trio_ws" in result.stdout
    for command, example in [
        ("connect", "trio-ws connect ws://"),
        ("serve", "trio-ws serve --port"),
    ]:
        result = cli(command, "--help")
        assert result.returncode == 0
        assert f"usage: python -m trio_ws {command}" in result.stdout
        assert "examples:" in result.stdout and example in result.stdout


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert trio_ws.__version__ in result.stdout
    assert trio.__version__ in result.stdout
    assert IMPLEMENTATION in result.stdout


def test_version_says_pure_python_when_extensions_are_off() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trio_ws", "--version"],
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT,
        cwd=ROOT,
        env={**os.environ, "TRIO_WS_NO_EXTENSIONS": "1"},
    )
    assert result.returncode == 0
    assert "(pure Python; trio" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["connect", "http://127.0.0.1/"], "ws:// or wss://"),
        (["connect", "ws://127.0.0.1:99999/"], "invalid port"),
        (["connect", "ws://h/", "--header", "no-colon"], "expected NAME:VALUE"),
        (["connect", "ws://h/", "--header", "Host: other"], "may not set 'Host'"),
        (["connect", "ws://h/", "--subprotocol", "a b"], "invalid subprotocol"),
        (["connect", "ws://h/", "--wait", "-1"], "expected seconds >= 0"),
        (["serve", "--tls-cert", "pyproject.toml"], "go together"),
        (["serve", "--tls-cert", "missing.pem"], "no such file: 'missing.pem'"),
        (["connect", "wss://h/", "--cafile", "missing.pem"], "no such file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_error(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "error:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_connection_refused_exits_1() -> None:
    # Bind a port and do not listen on it: nothing accepts there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = cli("connect", f"ws://127.0.0.1:{port}/")
    assert result.returncode == 1
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_describe_binary_and_text() -> None:
    assert describe("héllo") == "héllo"
    assert describe(b"\x00\x01\xff") == "<binary, 3 bytes: 00 01 ff>"
    long = describe(bytes(100))
    assert long.startswith("<binary, 100 bytes: 00 00") and long.endswith(" …>")
    assert long.split(": ")[1].split() == ["00"] * 32 + ["…>"]


async def test_line_reader_bounds_lines() -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"short\r\n" + b"x" * 30 + b"\nok\n" + b"y" * 9 + b"\nlast")
        os.close(write_fd)
        reader = LineReader(read_fd, max_line=8)
        with trio.fail_after(TEST_TIMEOUT):
            lines = []
            while (line := await reader.readline()) is not None:
                lines.append(line)
    finally:
        os.close(read_fd)
    # "x"*30 and "y"*9 are over the bound: dropped, never returned.
    assert lines == [b"short", b"ok", b"last"]


# ------------------------------------------------------- against a real server


async def test_serve_and_connect_round_trip(nursery: trio.Nursery) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        server = await spawn(nursery, "serve", "--port", "0")
        banner = await server.line()
        assert banner.startswith("serving on ws://127.0.0.1:")
        url = banner.split()[-1]
        client = await spawn(nursery, "connect", url + "echo")
        await client.write("hello, world\n")
        assert await client.line() == "hello, world"
        await client.write("second\n")
        assert await client.line() == "second"
        errors = await server.stderr_until("connected to /echo")
        assert "Traceback" not in errors
        # Ctrl-C on the server: the client is told 1001 (a normal close).
        server.process.send_signal(signal.SIGINT)
        assert await server.wait() == 0
        assert await client.wait() == 0
    assert "closed by the server: 1001 (GOING_AWAY)" in client.stderr.decode()
    assert "closed: 1001" in server.stderr.decode()


async def test_eof_closes_with_1000(
    nursery: trio.Nursery, recorder: tuple[Recorder, str]
) -> None:
    room, url = recorder
    with trio.fail_after(TEST_TIMEOUT):
        client = await spawn(nursery, "connect", url)
        await client.write("ping\n")
        assert await client.line() == "ping"
        await client.close_stdin()
        await room.done.wait()
        assert await client.wait() == 0
    assert room.closed[0] is not None and room.closed[0].code == 1000
    assert "connection closed: 1000 (NORMAL_CLOSURE)" in client.stderr.decode()


async def test_sigint_closes_with_1000_and_exits_0(
    nursery: trio.Nursery, recorder: tuple[Recorder, str]
) -> None:
    room, url = recorder
    with trio.fail_after(TEST_TIMEOUT):
        client = await spawn(nursery, "connect", url)
        await client.stderr_until("connected to")
        client.process.send_signal(signal.SIGINT)
        await room.done.wait()
        assert await client.wait() == 0
    assert room.closed[0] is not None and room.closed[0].code == 1000
    assert "KeyboardInterrupt" not in client.stderr.decode()


async def test_wait_prints_answers_after_end_of_input(
    nursery: trio.Nursery, recorder: tuple[Recorder, str]
) -> None:
    room, url = recorder
    with trio.fail_after(TEST_TIMEOUT):
        client = await spawn(nursery, "connect", url, "--wait", "5")
        await client.write("a\nb\nc\n")
        await client.close_stdin()
        # The three echoes are printed although the input has already ended.
        assert [await client.line() for _ in range(3)] == ["a", "b", "c"]
        # The server closing ends the wait early (well before 5 s).
        await room.connections[0].aclose(1000, "done")
        assert await client.wait() == 0
    assert "closed by the server: 1000 (NORMAL_CLOSURE): done" in client.stderr.decode()


async def test_headers_subprotocols_and_binary(
    nursery: trio.Nursery, recorder: tuple[Recorder, str]
) -> None:
    room, url = recorder
    with trio.fail_after(TEST_TIMEOUT):
        client = await spawn(
            nursery,
            "connect",
            url,
            "--header",
            "Authorization: Bearer t0ken",
            "--header",
            "X-Two:2",
            "--subprotocol",
            "chat.v1",
            "--origin",
            "http://example.test",
        )
        errors = await client.stderr_until("connected to")
        assert "subprotocol chat.v1" in errors
        # The client may print before the server has called its handler.
        await room.arrived.wait()
        ws = room.connections[0]
        assert ws.request is not None
        assert ws.request.get("Authorization") == "Bearer t0ken"
        assert ws.request.get("X-Two") == "2"
        assert ws.request.get("Origin") == "http://example.test"
        assert ws.request.target == "/room?x=1"
        await ws.send(b"\x01\x02\xfe")
        assert await client.line() == "<binary, 3 bytes: 01 02 fe>"
        # A close code other than 1000/1001 makes the client exit 1.
        await ws.aclose(4001, "kicked")
        assert await client.wait() == 1
    assert "closed by the server: 4001" in client.stderr.decode()
    assert "kicked" in client.stderr.decode()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A trustme CA and a server certificate for 127.0.0.1, as PEM files."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (tmp_path / n for n in ("ca", "cert", "key"))
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(cert_file), append=True)
    return ca_file, cert_file, key_file


async def test_serve_with_tls(
    nursery: trio.Nursery, tls_files: tuple[Path, Path, Path]
) -> None:
    ca_file, cert_file, key_file = tls_files
    with trio.fail_after(TEST_TIMEOUT):
        server = await spawn(
            nursery,
            "serve",
            "--port",
            "0",
            "--tls-cert",
            str(cert_file),
            "--tls-key",
            str(key_file),
        )
        banner = await server.line()
        assert banner.startswith("serving on wss://127.0.0.1:")
        url = banner.split()[-1]
        for trust in (["--cafile", str(ca_file)], ["--insecure"]):
            client = await spawn(nursery, "connect", url, *trust)
            await client.write("over tls\n")
            assert await client.line() == "over tls"
            await client.close_stdin()
            assert await client.wait() == 0
        # With neither, the self-made CA is not trusted: a clear error, exit 1.
        client = await spawn(nursery, "connect", url)
        assert await client.wait() == 1
        assert "certificate verify failed" in client.stderr.decode()
        server.process.send_signal(signal.SIGINT)
        assert await server.wait() == 0


async def test_connect_follows_redirects(nursery: trio.Nursery) -> None:
    def moved(request: trio_ws.Request) -> trio_ws.Response | None:
        if request.path == "/old":
            return trio_ws.Response(301, (("Location", "/new?y=1"),))
        if request.path == "/loop":
            return trio_ws.Response(302, (("Location", "/loop"),))
        return None

    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket,
            Recorder().handler,
            0,
            host="127.0.0.1",
            process_request=moved,
        )
    )
    base = f"ws://127.0.0.1:{server.port}"
    with trio.fail_after(TEST_TIMEOUT):
        client = await spawn(nursery, "connect", f"{base}/old")
        await client.stderr_until(f"connected to {base}/new?y=1")
        await client.write("after the redirect\n")
        assert await client.line() == "after the redirect"
        await client.close_stdin()
        assert await client.wait() == 0
        stopped = await spawn(
            nursery, "connect", f"{base}/loop", "--max-redirects", "2"
        )
        await stopped.close_stdin()
        assert await stopped.wait() == 1
    assert "more than max_redirects=2 redirects" in stopped.stderr.decode()


async def test_serve_metrics(nursery: trio.Nursery) -> None:
    """``serve --metrics``: Prometheus metrics at /metrics on the same port."""
    parser = pytest.importorskip("prometheus_client.parser")
    with trio.fail_after(TEST_TIMEOUT):
        server = await spawn(nursery, "serve", "--port", "0", "--metrics")
        banner = await server.line()
        metrics_url = await server.line()
        port = int(banner.split(":")[-1].strip("/"))
        assert metrics_url == f"metrics at http://127.0.0.1:{port}/metrics"
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"
            status, _, body = await http_exchange(
                port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            )
        assert status == 200
        found = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in parser.text_string_to_metric_families(body.decode())
            for sample in family.samples
        }
        assert found["trio_ws_connections_open", ()] == 1
        assert found["trio_ws_handshakes_total", (("status", "101"),)] == 1
        assert found["trio_ws_messages_total", (("direction", "received"),)] == 1
        assert found["trio_ws_messages_total", (("direction", "sent"),)] == 1
        server.process.send_signal(signal.SIGINT)
        assert await server.wait() == 0


def test_serve_metrics_without_prometheus_client_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--metrics"])
    assert exited.value.code == 2
    assert "pip install 'trio-ws[prometheus]'" in capsys.readouterr().err
