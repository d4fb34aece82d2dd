"""examples/workers.py: N processes on one port, a broadcast across them
through a real redis-server, 1001 on stop (``python -m nox -s redis``)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_ws import WebSocket, open_websocket_url

from .conftest import TEST_TIMEOUT
from .test_examples import EXAMPLES
from .test_redis import RedisServer, start_redis_or_skip

pytestmark = pytest.mark.redis

needs_reuse_port = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or sys.platform == "win32",
    reason="this platform has no SO_REUSEPORT",
)

# The example starts three interpreters (parent and two workers), each
# importing trio: allow for that on a busy machine.
PROCESS_TEST_TIMEOUT = 3 * TEST_TIMEOUT

# Connections tried before concluding the kernel never picked the second
# worker; each lands on either with probability ~1/2 on Linux.
MAX_ATTEMPTS = 64

# The example's first message to each client; the proxy part only behind one.
WELCOME = re.compile(
    r"^\* welcome (?P<name>\S+): worker pid (?P<pid>\d+)"
    r"(?: \(via a proxy, for (?P<client>[^)]+)\))?$"
)


async def read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            raise AssertionError(f"the example exited before a line: {data!r}")
        data += chunk
    return data.decode()


async def connect_until_two_workers(
    stack: AsyncExitStack, url: str, *, proxied_for: str | None = None
) -> dict[WebSocket, re.Match[str]]:
    """Open clients until two are served by different worker processes.

    ``proxied_for``: the client address a proxy must have reported (None:
    no proxy in between).

    Returns:
        Each client (in connection order) and its welcome message.
    """
    welcomes: dict[WebSocket, re.Match[str]] = {}
    for _ in range(MAX_ATTEMPTS):
        ws = await stack.enter_async_context(open_websocket_url(url))
        welcome = WELCOME.match(str(await ws.receive()))
        assert welcome is not None
        assert welcome["client"] == proxied_for
        welcomes[ws] = welcome
        if len({welcome["pid"] for welcome in welcomes.values()}) == 2:
            return welcomes
    raise AssertionError(f"{MAX_ATTEMPTS} connections all went to one worker")


async def receive_until(ws: WebSocket, wanted: str) -> None:
    while (message := await ws.receive()) != wanted:
        assert isinstance(message, str)  # join notices


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@asynccontextmanager
async def running_workers(
    redis_url: str, count: int = 2
) -> AsyncIterator[tuple[trio.Process, int]]:
    """examples/workers.py on a free port, sharing the room through the
    redis-server at ``redis_url``: (the parent process, the port)."""
    command = [sys.executable, str(EXAMPLES / "workers.py"), "--port", "0"]
    command += ["--redis", redis_url, "--workers", str(count)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    try:
        with trio.fail_after(PROCESS_TEST_TIMEOUT):
            line = await read_line(process.stdout)
        assert f"{count} workers serving the chat" in line, line
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found is not None
        yield process, int(found.group(1))
    finally:
        if process.returncode is None:
            process.kill()  # the orphaned workers see their stdin end and stop
            await process.wait()


async def broadcast_then_stop(
    url: str, workers: trio.Process, *, proxied_for: str | None = None
) -> set[int]:
    """Clients on two workers; one broadcasts, all receive; SIGTERM: all get 1001.

    Returns:
        The two worker pids.
    """
    async with AsyncExitStack() as stack:
        welcomes = await connect_until_two_workers(stack, url, proxied_for=proxied_for)
        sender, welcome = list(welcomes.items())[-1]  # alone on its worker
        text = f"hello from {welcome['pid']}"
        await sender.send(text)
        for ws in welcomes:
            await receive_until(ws, f"{welcome['name']}: {text}")
        workers.send_signal(signal.SIGTERM)
        for ws in welcomes:
            async for _ in ws:
                pass  # join notices still on their way
            assert ws.closed is not None
            assert ws.closed.code == 1001
    return {int(welcome["pid"]) for welcome in welcomes.values()}


@needs_reuse_port
async def test_workers_example_broadcasts_across_processes_and_stops_with_1001(
    tmp_path: Path,
) -> None:
    redis = start_redis_or_skip(tmp_path)
    try:
        await broadcast_then_stop_all(redis.url)
    finally:
        redis.kill()


async def broadcast_then_stop_all(redis_url: str) -> None:
    async with running_workers(redis_url, 2) as (process, port):
        with trio.fail_after(PROCESS_TEST_TIMEOUT):
            pids = await broadcast_then_stop(f"ws://127.0.0.1:{port}/ws", process)
            assert await process.wait() == 0
            assert process.stdout is not None
            assert "all workers stopped" in await read_line(process.stdout)
        # The parent waited for (and reaped) its workers before exiting.
        assert not any(process_exists(pid) for pid in pids)


@needs_reuse_port
async def test_workers_example_stops_when_a_worker_cannot_start(
    tmp_path: Path,
) -> None:
    redis = start_redis_or_skip(tmp_path)
    # A plain listener (no SO_REUSEPORT) holds the port: no worker can bind.
    with redis_stopped_after(redis), socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = [sys.executable, str(EXAMPLES / "workers.py"), "--workers", "2"]
        command += ["--redis", redis.url]
        with trio.fail_after(PROCESS_TEST_TIMEOUT):
            result = await trio.run_process(
                [*command, "--port", str(port)],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert result.returncode == 1
    assert b"exited (1): stopping" in result.stdout
    assert b"Address already in use" in result.stderr


@contextmanager
def redis_stopped_after(redis: RedisServer) -> Iterator[None]:
    try:
        yield
    finally:
        redis.kill()
