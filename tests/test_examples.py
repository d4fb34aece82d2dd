"""The examples run: in process (handlers) and as real scripts (subprocess)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio

from trio_ws import ConnectionClosed, open_websocket_url, serve_websocket

from .conftest import TEST_TIMEOUT, http_exchange

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_chat_room_broadcasts_and_serves_the_page(nursery: trio.Nursery) -> None:
    chat = load("chat_server")
    room = chat.ChatRoom()
    server = await nursery.start(
        functools.partial(
            serve_websocket,
            room.handler,
            0,
            host="127.0.0.1",
            process_request=chat.process_request,
        )
    )
    base = f"127.0.0.1:{server.port}"
    with trio.fail_after(TEST_TIMEOUT):
        status, headers, body = await http_exchange(
            server.port, f"GET / HTTP/1.1\r\nHost: {base}\r\n\r\n".encode()
        )
        assert status == 200
        assert headers["content-type"].startswith("text/html")
        assert b"new WebSocket(" in body
        status, _, _ = await http_exchange(
            server.port, f"GET /nope HTTP/1.1\r\nHost: {base}\r\n\r\n".encode()
        )
        assert status == 404
        async with open_websocket_url(f"ws://{base}/ws") as alice:
            assert await alice.receive() == "* guest1 joined (1 here)"
            async with open_websocket_url(f"ws://{base}/ws") as bob:
                assert await alice.receive() == "* guest2 joined (2 here)"
                assert await bob.receive() == "* guest2 joined (2 here)"
                await bob.send("hi all")
                assert await alice.receive() == "guest2: hi all"
                assert await bob.receive() == "guest2: hi all"
            assert await alice.receive() == "* guest2 left"
    await server.aclose()
    with pytest.raises(ConnectionClosed):
        await alice.receive()


async def test_echo_handler(nursery: trio.Nursery) -> None:
    echo = load("echo_server")
    server = await nursery.start(
        functools.partial(serve_websocket, echo.echo, 0, host="127.0.0.1")
    )
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("x")
            assert await ws.receive() == "x"
    await server.aclose()


def test_scripts_run_end_to_end() -> None:
    """Run the chat server script on a free port; talk to it with the client script."""
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "chat_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "open http://127.0.0.1:" in line
        url = line.split("open ")[1].split()[0]
        ws_url = url.replace("http://", "ws://") + "ws"
        client = subprocess.run(
            [sys.executable, str(EXAMPLES / "echo_client.py"), ws_url, "hello"],
            capture_output=True,
            text=True,
            timeout=TEST_TIMEOUT,
            check=True,
        )
        # The chat room answers with the join notice first.
        assert client.stdout.strip() == "* guest1 joined (1 here)"
    finally:
        server.terminate()
        server.wait(timeout=TEST_TIMEOUT)


def test_stream_file_example_sends_more_than_max_message_size(tmp_path: Path) -> None:
    data = bytes(range(256)) * 12_000  # ~3 MiB, three times the default limit
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "stream_file.py"), str(source)],
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT * 3,
        check=True,
    )
    assert f"server received {len(data)} bytes" in result.stdout
    assert hashlib.sha256(data).hexdigest() in result.stdout
    assert "max_message_size 1048576" in result.stdout
    assert "checksums match" in result.stdout


async def test_dashboard_page_feed_and_load(nursery: trio.Nursery) -> None:
    """examples/dashboard.py: the page, a snapshot a second that matches
    server.statistics(), and its load generator on /echo."""
    dashboard = load("dashboard")
    server = await nursery.start(
        functools.partial(dashboard.serve_dashboard, "127.0.0.1", 0)
    )
    base = f"127.0.0.1:{server.port}"
    with trio.fail_after(TEST_TIMEOUT):
        status, headers, body = await http_exchange(
            server.port, f"GET / HTTP/1.1\r\nHost: {base}\r\n\r\n".encode()
        )
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b"<canvas" in body and b"new WebSocket(" in body
        status, _, _ = await http_exchange(
            server.port, f"GET /nope HTTP/1.1\r\nHost: {base}\r\n\r\n".encode()
        )
        assert status == 404
        async with open_websocket_url(f"ws://{base}/ws") as feed:
            first = json.loads(await feed.receive())
            assert first["seq"] == 1 and first["open_connections"] == 1
            assert first["messages_received"] == 0

            load_scope = trio.CancelScope()
            nursery.start_soon(
                _cancellable, load_scope, dashboard.generate_load,
                f"ws://{base}/echo", 3, 50.0,
            )  # fmt: skip
            while server.statistics().messages_received < 30:  # noqa: ASYNC110
                await trio.sleep(0.01)
            load_scope.cancel()
            while server.statistics().open_connections > 1:  # noqa: ASYNC110
                await trio.sleep(0.01)
            # The load has stopped: the first snapshot that shows it so
            # matches the server's numbers (the feed itself receives nothing).
            while (snapshot := json.loads(await feed.receive()))[
                "open_connections"
            ] != 1:
                pass
            stats = server.statistics()
            assert snapshot["messages_received"] == stats.messages_received >= 30
            assert snapshot["bytes_received"] == stats.bytes_received
            assert snapshot["handshakes_accepted"] == stats.handshakes_accepted == 4
            # Sent: the echoes (one per message received, but for those
            # whose client left first: at most one per load client) and the
            # snapshots pushed before this one.
            echoes = snapshot["messages_sent"] - (snapshot["seq"] - 1)
            assert stats.messages_received - 3 <= echoes <= stats.messages_received
    await server.aclose()


async def _cancellable(scope: trio.CancelScope, function: Any, *args: Any) -> None:
    with scope:
        await function(*args)
