"""The nginx recipe (examples/nginx/) with examples/workers.py behind it.

Through a real nginx: the page, the 101 upgrade, messages both ways, the
client address in X-Forwarded-For, a broadcast across two worker processes,
and the workers' 1001 on shutdown. Skipped when nginx is not installed;
``python -m nox -s nginx`` runs these tests.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import pytest
import trio

from trio_ws import open_websocket_url
from trio_ws._core import _handshake as hs

from .conftest import TEST_TIMEOUT, http_exchange
from .test_examples import EXAMPLES
from .test_scaleout import (
    PROCESS_TEST_TIMEOUT,
    broadcast_then_stop,
    needs_reuse_port,
    running_workers,
)


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nginx_run", EXAMPLES / "nginx" / "run.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = load_runner()
NGINX = runner.find_nginx()

pytestmark = [
    pytest.mark.nginx,
    needs_reuse_port,
    pytest.mark.skipif(
        NGINX is None,
        reason="nginx is not installed (Debian: apt-get install nginx); "
        "python -m nox -s nginx runs these tests",
    ),
]

# Attempts, POLL_INTERVAL seconds apart, to connect while nginx starts.
STARTUP_POLLS = 200
POLL_INTERVAL = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_log(prefix: Path) -> str:
    path = prefix / "logs" / "error.log"
    return path.read_text() if path.exists() else "(no error.log)"


@asynccontextmanager
async def running_nginx(
    prefix: Path, listen: int, backend: int | list[int]
) -> AsyncIterator[trio.Process]:
    """nginx in the foreground with the recipe's config, accepting on ``listen``."""
    runner.prepare(prefix, listen, backend)
    process = await trio.lowlevel.open_process(runner.command(NGINX, prefix))
    try:
        for _ in range(STARTUP_POLLS):
            if process.poll() is not None:
                pytest.fail(f"nginx exited ({process.returncode}): {error_log(prefix)}")
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", listen)
            except OSError:
                await trio.sleep(POLL_INTERVAL)
                continue
            await stream.aclose()
            break
        else:
            pytest.fail(f"nginx did not listen on {listen}: {error_log(prefix)}")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(TEST_TIMEOUT):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def upgrade_head(port: int) -> tuple[hs.Response, str]:
    """A raw upgrade request to ``port``: the response head and our key."""
    key = hs.generate_key()
    url = hs.WebSocketURL(
        scheme="ws", host="127.0.0.1", port=port, resource="/ws", secure=False
    )
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(hs.build_request(url, key))
        reader = hs.HeadReader()
        while not reader.feed(bytes(await stream.receive_some(65536))):
            pass
    return hs.parse_response(reader.head), key


async def test_upgrade_and_broadcast_through_nginx(tmp_path: Path) -> None:
    from .test_redis import start_redis_or_skip

    redis = start_redis_or_skip(tmp_path)
    try:
        await upgrade_and_broadcast(tmp_path, redis.url)
    finally:
        redis.kill()


async def upgrade_and_broadcast(tmp_path: Path, redis_url: str) -> None:
    listen = free_port()
    prefix = tmp_path / "nginx"
    async with (
        running_workers(redis_url, 2) as (workers, backend),
        running_nginx(prefix, listen, backend) as nginx,
    ):
        with trio.fail_after(PROCESS_TEST_TIMEOUT):
            # Plain HTTP passes (the map sends "Connection: close" upstream).
            status, headers, body = await http_exchange(
                listen,
                f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{listen}\r\n"
                f"Connection: close\r\n\r\n".encode(),
            )
            assert status == 200
            assert b"new WebSocket(" in body
            assert headers["server"].startswith("nginx")
            # The upgrade passes: 101 with the accept key of *our* key.
            response, key = await upgrade_head(listen)
            assert response.status_code == 101
            answer = {name.lower(): value for name, value in response.headers}
            assert answer["upgrade"].lower() == "websocket"
            assert answer["connection"].lower() == "upgrade"
            assert answer["sec-websocket-accept"] == hs.accept_key(key)
            # Messages both ways, across two workers, with the client's
            # address forwarded; then every client gets the workers' 1001.
            await broadcast_then_stop(
                f"ws://127.0.0.1:{listen}/ws", workers, proxied_for="127.0.0.1"
            )
            assert await workers.wait() == 0
    assert nginx.returncode is not None
    assert "[emerg]" not in error_log(prefix)


async def test_nginx_balances_two_chat_processes_that_share_redis(
    tmp_path: Path,
) -> None:
    """The recipe in front of two chat processes sharing their room through a
    real redis-server (issue 20): nginx sends two clients to two processes,
    and they talk."""
    from .test_redis import chat_process, start_redis_or_skip

    redis = start_redis_or_skip(tmp_path)
    listen = free_port()
    try:
        with trio.fail_after(4 * TEST_TIMEOUT):
            async with (
                chat_process(redis.url) as first,
                chat_process(redis.url) as second,
            ):
                ports = [
                    int(url.split(":")[2].split("/")[0]) for url in (first, second)
                ]
                async with (
                    running_nginx(tmp_path / "nginx", listen, ports),
                    open_websocket_url(f"ws://127.0.0.1:{listen}/ws") as alice,
                ):
                    assert await alice.receive() == "* guest1 joined (1 here)"
                    async with open_websocket_url(f"ws://127.0.0.1:{listen}/ws") as bob:
                        # Round robin: Bob is on the other process, whose first
                        # guest he is (on Alice's he would be guest2, 2 here).
                        assert await bob.receive() == "* guest1 joined (1 here)"
                        assert await alice.receive() == "* guest1 joined (1 here)"
                        await bob.send("through nginx and redis")
                        for ws in (alice, bob):
                            assert (
                                await ws.receive() == "guest1: through nginx and redis"
                            )
    finally:
        redis.kill()
