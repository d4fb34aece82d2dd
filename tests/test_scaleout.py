"""examples/workers.py: N processes on one port, a broadcast across them, 1001 on stop.

Also the example's socketpair relay (framing, fan-out) in process.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
import trio.testing

from trio_ws import WebSocket, open_websocket_url

from .conftest import TEST_TIMEOUT
from .test_examples import EXAMPLES, load

relay = load("socketpair_relay")

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


async def test_relay_frames_round_trip_whole_and_byte_at_a_time() -> None:
    wire = b"".join(
        [
            relay.encode(relay.KIND_TEXT, "room", "héllo"),
            relay.encode(relay.KIND_BINARY, "", b"\x00\xff" * 1000),
            relay.encode(relay.KIND_READY),
        ]
    )
    for chunk in (len(wire), 1):
        send, receive = trio.testing.memory_stream_one_way_pair()
        for start in range(0, len(wire), chunk):
            await send.send_all(wire[start : start + chunk])
        await send.aclose()
        got = [relay.decode(frame) async for frame in relay.read_frames(receive)]
        assert got == [
            (relay.KIND_TEXT, "room", "héllo"),
            (relay.KIND_BINARY, "", b"\x00\xff" * 1000),
            (relay.KIND_READY, "", b""),
        ]


async def test_relay_refuses_oversized_and_truncated_frames() -> None:
    with pytest.raises(ValueError, match="too large"):
        relay.encode(relay.KIND_BINARY, "c", b"x" * (relay.MAX_FRAME + 1))
    for wire, error in (
        ((relay.MAX_FRAME + 1).to_bytes(4, "big"), "refused"),
        (relay.encode(relay.KIND_TEXT, "c", "cut")[:-1], "inside a frame"),
    ):
        send, receive = trio.testing.memory_stream_one_way_pair()
        await send.send_all(wire)
        await send.aclose()
        with pytest.raises(ValueError, match=error):
            async for _ in relay.read_frames(receive):
                pass  # pragma: no cover


async def test_relay_copies_every_message_to_every_worker(
    nursery: trio.Nursery,
) -> None:
    parent = relay.Relay(workers=2)
    pubsubs, parent_ends = [], []
    for _ in range(2):
        ours, theirs = trio.testing.memory_stream_pair()
        nursery.start_soon(parent.serve, ours)
        pubsub = relay.RelayPubSub(theirs)
        nursery.start_soon(pubsub.run)
        pubsubs.append(pubsub)
        parent_ends.append(ours)
    first, second = pubsubs
    with trio.fail_after(TEST_TIMEOUT):
        async with (
            first.subscribe("room") as here,
            second.subscribe("room") as there,
            second.subscribe("elsewhere") as elsewhere,
        ):
            for pubsub in pubsubs:
                await pubsub.announce_ready()
            await parent.all_ready.wait()
            await first.publish("room", "text")
            await second.publish("room", b"bytes")
            for subscription in (here, there):
                # One order everywhere: the relay's.
                assert {await subscription.receive(), await subscription.receive()} == {
                    "text",
                    b"bytes",
                }
            await second.publish("elsewhere", "x")
            assert await elsewhere.receive() == "x"
            # A worker closing its end ends its own subscriptions...
            await first.aclose()
            assert [message async for message in here] == []
            # ...and so does the parent going away (EOF).
            await parent_ends[1].aclose()
            assert [message async for message in there] == []
            assert [message async for message in elsewhere] == []
    # Every relay task ends quietly (a crash would fail this test).
    await trio.testing.wait_all_tasks_blocked()


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
async def running_workers(count: int = 2) -> AsyncIterator[tuple[trio.Process, int]]:
    """examples/workers.py on a free port: (the parent process, the port)."""
    command = [sys.executable, str(EXAMPLES / "workers.py"), "--port", "0"]
    process = await trio.lowlevel.open_process(
        [*command, "--workers", str(count)], stdout=subprocess.PIPE
    )
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
            process.kill()  # the orphaned workers see the relay close and stop
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
async def test_workers_example_broadcasts_across_processes_and_stops_with_1001() -> (
    None
):
    async with running_workers(2) as (process, port):
        with trio.fail_after(PROCESS_TEST_TIMEOUT):
            pids = await broadcast_then_stop(f"ws://127.0.0.1:{port}/ws", process)
            assert await process.wait() == 0
            assert process.stdout is not None
            assert "all workers stopped" in await read_line(process.stdout)
        # The parent waited for (and reaped) its workers before exiting.
        assert not any(process_exists(pid) for pid in pids)


@needs_reuse_port
async def test_workers_example_stops_when_a_worker_cannot_start() -> None:
    # A plain listener (no SO_REUSEPORT) holds the port: no worker can bind.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = [sys.executable, str(EXAMPLES / "workers.py"), "--workers", "2"]
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
