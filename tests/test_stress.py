"""10,000 idle connections on one server (``slow``: run by ``nox -s stress``).

The server runs in its own process (tests/stress_server.py, default
options: keepalive, compression offered but not asked for here), so that its
resident memory is its own. This process opens the connections over
loopback in batches, answers the server's keepalive pings, measures the
server's RSS per connection, then has the server close: every connection
must get a 1001 close frame, and ``server.aclose()`` must return within
``close_timeout``. The measurements are printed and written to
``benchmarks/results/stress.json`` (or $TRIO_WS_STRESS_RESULTS).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from trio_ws._core import _handshake as hs
from trio_ws._core._events import CloseReceived
from trio_ws._core._protocol import Protocol, Role
from trio_ws._options import DEFAULT_CLOSE_TIMEOUT

pytestmark = pytest.mark.slow

CONNECTIONS = int(os.environ.get("TRIO_WS_STRESS_CONNECTIONS", "10000"))
# Connections opened at once: enough to go fast, few enough that the listen
# backlog (SOMAXCONN, often 4096) and a 2-core machine keep up.
BATCH = 250
# File descriptors each process needs beyond the connections (listeners,
# pipes, the interpreter's own files).
FD_MARGIN = 200
# Generous bounds for a busy machine; the measured times are reported.
CONNECT_TIMEOUT = 300
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(
    os.environ.get(
        "TRIO_WS_STRESS_RESULTS", ROOT / "benchmarks" / "results" / "stress.json"
    )
)


def raise_fd_limit(needed: int) -> None:
    """Raise RLIMIT_NOFILE's soft limit to the hard one (the server process
    inherits it); skip when even the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(
            f"{CONNECTIONS} connections need {needed} file descriptors per "
            f"process; the hard limit (ulimit -Hn) is {hard}"
        )
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def write_results(measured: dict[str, object]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(measured, indent=2) + "\n")
    print(f"\nstress: {json.dumps(measured)} (written to {RESULTS})")


class ServerProcess:
    """The child process and its line protocol (see stress_server.py)."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        assert process.stdout is not None and process.stdin is not None
        self._stdout = process.stdout
        self._stdin = process.stdin
        self._buffer = b""

    async def line(self) -> str:
        while b"\n" not in self._buffer:
            data = await self._stdout.receive_some()
            if not data:
                raise RuntimeError("the server process exited")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    async def ask(self, command: str) -> list[str]:
        await self._stdin.send_all(command.encode() + b"\n")
        return (await self.line()).split()


class Client:
    """One raw connection: answers pings, echoes the close frame."""

    def __init__(self, stream: trio.SocketStream, leftover: bytes) -> None:
        self.stream = stream
        self.protocol = Protocol(Role.CLIENT, max_message_size=None)
        self.leftover = leftover
        self.close_code: int | None = None

    async def run(self) -> None:
        protocol = self.protocol
        data = self.leftover
        try:
            while True:
                if data:
                    protocol.receive_data(data)
                    for event in protocol.events():
                        if isinstance(event, CloseReceived):
                            self.close_code = event.reason.code
                    out = protocol.data_to_send()
                    if out:  # pongs, the close echo
                        await self.stream.send_all(out)
                data = await self.stream.receive_some(65536)
                if not data:
                    return  # the server closed TCP (after the close frames)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(self.stream)


async def connect(port: int, request: bytes) -> Client:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(request)
    reader = hs.HeadReader()
    while not reader.feed(bytes(await stream.receive_some(65536))):
        pass
    assert reader.head.startswith(b"HTTP/1.1 101 "), reader.head[:80]
    return Client(stream, reader.trailing)


async def open_clients(port: int, count: int, nursery: trio.Nursery) -> list[Client]:
    url = hs.WebSocketURL(
        scheme="ws", host="127.0.0.1", port=port, resource="/", secure=False
    )
    request = hs.build_request(url, hs.generate_key())
    clients: list[Client] = []

    async def one() -> None:
        client = await connect(port, request)
        clients.append(client)
        nursery.start_soon(client.run)

    for start in range(0, count, BATCH):
        async with trio.open_nursery() as batch:
            for _ in range(min(BATCH, count - start)):
                batch.start_soon(one)
    return clients


async def test_10k_idle_connections() -> None:
    raise_fd_limit(CONNECTIONS + FD_MARGIN)
    measured: dict[str, object] = {"connections": CONNECTIONS}
    started = time.monotonic()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "tests.stress_server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        server = ServerProcess(process)
        port = int((await server.line()).split()[1])
        async with trio.open_nursery() as nursery:
            # Warm up (first-use allocations, lazy imports), then the baseline.
            warm = await open_clients(port, BATCH, nursery)
            for client in warm:
                await client.stream.aclose()
            while int((await server.ask("rss"))[3]) != 0:  # noqa: ASYNC110
                await trio.sleep(0.1)
            baseline = int((await server.ask("rss"))[1])

            start = time.monotonic()
            with trio.fail_after(CONNECT_TIMEOUT):
                clients = await open_clients(port, CONNECTIONS, nursery)
            measured["connect_seconds"] = round(time.monotonic() - start, 1)
            _, rss, _, open_count = await server.ask("rss")
            assert int(open_count) == CONNECTIONS
            per_connection = (int(rss) - baseline) / CONNECTIONS
            measured["server_rss_kib_before"] = baseline
            measured["server_rss_kib_after"] = int(rss)
            measured["kib_per_connection"] = round(per_connection, 2)

            start = time.monotonic()
            with trio.fail_after(DEFAULT_CLOSE_TIMEOUT + 30):
                _, seconds = await server.ask("close")
            measured["aclose_seconds"] = float(seconds)
            measured["close_wall_seconds"] = round(time.monotonic() - start, 2)
            with trio.fail_after(30):
                while any(c.close_code is None for c in clients):  # noqa: ASYNC110
                    await trio.sleep(0.1)
            codes: dict[int | None, int] = {}
            for client in clients:
                codes[client.close_code] = codes.get(client.close_code, 0) + 1
            measured["close_codes"] = {str(code): n for code, n in codes.items()}
            nursery.cancel_scope.cancel()
        with trio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
    measured["total_seconds"] = round(time.monotonic() - started, 1)
    write_results(measured)
    assert codes == {1001: CONNECTIONS}
    assert float(seconds) <= DEFAULT_CLOSE_TIMEOUT
