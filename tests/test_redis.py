"""The Redis pub/sub adapter against a real redis-server (or valkey-server).

Each test starts its own server on a free loopback port in a temporary
directory (no persistence) and stops it afterwards. Skipped when neither
binary is installed; ``python -m nox -s redis`` runs these tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from trio_ws import Subscription, open_websocket_url
from trio_ws.pubsub._redis import (
    BrokerUnavailable,
    RedisPubSub,
    decode,
    encode,
    open_redis_pubsub,
)

from .test_examples import EXAMPLES

SERVER = shutil.which("redis-server") or shutil.which("valkey-server")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        SERVER is None,
        reason="redis-server is not installed (Debian: apt-get install "
        "redis-server; or valkey-server); python -m nox -s redis runs these tests",
    ),
]

TIMEOUT = 20
# Attempts, POLL_INTERVAL seconds apart, to connect while the server starts.
STARTUP_POLLS = 200
POLL_INTERVAL = 0.025


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process on 127.0.0.1:``port`` that can be killed and restarted."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert SERVER is not None
        command = [SERVER, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.directory,
        )
        for _ in range(STARTUP_POLLS):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(POLL_INTERVAL)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def start_redis_or_skip(directory: Path) -> RedisServer:
    """A started redis-server, for the tests of other sessions (browser,
    nginx) that need one: skips without the binary or the redis extra."""
    if SERVER is None:
        pytest.skip(
            "redis-server is not installed (Debian: apt-get install redis-server)"
        )
    pytest.importorskip("coredis", reason="the redis extra is not installed")
    server = RedisServer(directory)
    server.start()
    return server


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@asynccontextmanager
async def admin(url: str) -> AsyncIterator[object]:
    """A plain coredis client, to look at the server from outside the adapter."""
    import coredis

    async with coredis.Redis.from_url(url) as client:
        yield client


async def numsub(url: str, *channels: str) -> dict[str, int]:
    """PUBSUB NUMSUB: how many connections subscribe to each channel."""
    import coredis

    async with coredis.Redis.from_url(url) as client:
        counts = await client.pubsub_numsub(*channels)
    return {key.decode(): int(value) for key, value in counts.items()}


async def until(predicate: object, *, interval: float = 0.02) -> None:
    """Poll an async predicate until it holds."""
    assert callable(predicate)
    while not await predicate():  # noqa: ASYNC110 (a state of the hub, no event)
        await trio.sleep(interval)


def test_wire_format_keeps_the_message_type() -> None:
    assert decode(encode("héllo")) == "héllo"
    assert decode(encode(b"\x00\xff")) == b"\x00\xff"
    assert decode(b"") is None
    assert decode(b"xforeign") is None


async def test_publish_reaches_another_process(redis: RedisServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_redis_pubsub(redis.url) as one,
            open_redis_pubsub(redis.url) as two,
        ):
            async with two.subscribe("room") as subscription:
                await one.publish("room", "hello")
                await one.publish("room", b"\x01bin")
                await one.publish("elsewhere", "not for us")
                await two.publish("room", "from two")
                assert await subscription.receive() == "hello"
                assert await subscription.receive() == b"\x01bin"
                assert await subscription.receive() == "from two"
            assert one.reconnections == two.reconnections == 0


async def test_subscribes_on_first_and_unsubscribes_after_last(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_redis_pubsub(redis.url) as hub:
            assert await numsub(redis.url, "c") == {"c": 0}
            async with hub.subscribe("c") as first:
                assert await numsub(redis.url, "c") == {"c": 1}
                async with hub.subscribe("c") as second:
                    # One broker subscription per process, however many local.
                    assert await numsub(redis.url, "c") == {"c": 1}
                    await hub.publish("c", "both")
                    assert await first.receive() == "both"
                    assert await second.receive() == "both"
                assert await numsub(redis.url, "c") == {"c": 1}
                await hub.publish("c", "first only")
                assert await first.receive() == "first only"
            assert await numsub(redis.url, "c") == {"c": 0}


async def test_outage_then_reconnection(redis: RedisServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_redis_pubsub(redis.url) as hub,
            hub.subscribe("feed") as subscription,
        ):
            await hub.publish("feed", "before")
            assert await subscription.receive() == "before"
            assert subscription.interruptions == 0
            redis.kill()
            await until(lambda: _disconnected(hub))
            with pytest.raises(BrokerUnavailable) as info:
                await hub.publish("feed", "during")
            assert isinstance(info.value, OSError)
            assert info.value.__cause__ is not None
            # The subscription is still open: receiving just waits.
            with trio.move_on_after(0.2) as waited:
                await subscription.receive()
            assert waited.cancelled_caught
            redis.start()
            with trio.fail_after(TIMEOUT / 2):
                await hub.wait_connected()
            assert hub.reconnections >= 1
            # The subscriber is told that it may have missed messages.
            assert subscription.interruptions == hub.reconnections
            assert await numsub(redis.url, "feed") == {"feed": 1}
            await hub.publish("feed", "after")
            assert await subscription.receive() == "after"


async def _disconnected(hub: RedisPubSub) -> bool:
    return not hub.connected


async def test_a_subscriber_that_never_reads(redis: RedisServer) -> None:
    count = 50
    with trio.fail_after(TIMEOUT):
        async with (
            open_redis_pubsub(redis.url, queue_size=4) as hub,
            hub.subscribe("busy") as stalled,
            hub.subscribe("busy") as reader,
        ):
            got = []
            for number in range(count):
                await hub.publish("busy", str(number))
                got.append(await reader.receive())
            assert got == [str(number) for number in range(count)]
            assert stalled.dropped == count - 4
            assert [await stalled.receive() for _ in range(4)] == [
                str(number) for number in range(count - 4, count)
            ]


async def test_a_thousand_channels(redis: RedisServer) -> None:
    names = [f"ch{number}" for number in range(1000)]
    with trio.fail_after(TIMEOUT):
        async with (
            open_redis_pubsub(redis.url) as hub,
            open_redis_pubsub(redis.url) as other,
        ):
            received: dict[str, str] = {}
            entered = 0
            all_in = trio.Event()

            async def listen(name: str) -> None:
                nonlocal entered
                async with hub.subscribe(name) as subscription:
                    entered += 1
                    if entered == len(names):
                        all_in.set()
                    message = await subscription.receive()
                    assert isinstance(message, str)
                    received[name] = message

            async with trio.open_nursery() as nursery:
                for name in names:
                    nursery.start_soon(listen, name)
                await all_in.wait()
                counts = await numsub(redis.url, *names[:10], names[-1])
                assert set(counts.values()) == {1}
                for name in names:
                    await other.publish(name, f"to {name}")
            assert received == {name: f"to {name}" for name in names}
            assert await numsub(redis.url, names[0], names[-1]) == {
                names[0]: 0,
                names[-1]: 0,
            }


async def test_unreachable_broker_fails_to_open() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with trio.fail_after(TIMEOUT), pytest.raises(BrokerUnavailable):
        async with open_redis_pubsub(url):
            pytest.fail("opened without a broker")


async def test_the_users_exception_leaves_unchanged(redis: RedisServer) -> None:
    error = ValueError("mine")
    with trio.fail_after(TIMEOUT), pytest.raises(ValueError) as info:
        async with open_redis_pubsub(redis.url) as hub, hub.subscribe("x"):
            raise error
    assert info.value is error


async def test_subscribing_during_an_outage(redis: RedisServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_redis_pubsub(redis.url) as hub:
            redis.kill()
            await until(lambda: _disconnected(hub))
            async with hub.subscribe("late") as subscription:
                redis.start()
                await hub.wait_connected()
                assert await numsub(redis.url, "late") == {"late": 1}
                await hub.publish("late", "made it")
                assert await subscription.receive() == "made it"
            assert await numsub(redis.url, "late") == {"late": 0}


async def test_last_leaves_while_next_arrives(redis: RedisServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_redis_pubsub(redis.url) as hub:
            next_in: list[Subscription] = []
            entered = trio.Event()
            release = trio.Event()

            async def arrive() -> None:
                async with hub.subscribe("turn") as subscription:
                    next_in.append(subscription)
                    entered.set()
                    await release.wait()
                    assert await subscription.receive() == "still here"

            async with trio.open_nursery() as nursery:
                async with hub.subscribe("turn"):
                    # The next one arrives while this one leaves (UNSUBSCRIBE).
                    nursery.start_soon(arrive)
                await entered.wait()
                assert await numsub(redis.url, "turn") == {"turn": 1}
                await hub.publish("turn", "still here")
                release.set()


@asynccontextmanager
async def chat_process(url: str) -> AsyncIterator[str]:
    """examples/chat_server.py --redis ``url`` on a free port: its ws:// URL."""
    command = [sys.executable, str(EXAMPLES / "chat_server.py"), "--port", "0"]
    process = await trio.lowlevel.open_process(
        [*command, "--redis", url], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        printed = b""
        while b"\n" not in printed:
            chunk = await process.stdout.receive_some()
            assert chunk, f"the chat process ended: {printed!r}"
            printed += chunk
        line = printed.decode()
        assert "open http://127.0.0.1:" in line, line
        yield line.split("open ")[1].split()[0].replace("http://", "ws://") + "ws"
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()
            await process.stdout.aclose()


async def test_two_chat_processes_share_a_room(redis: RedisServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            chat_process(redis.url) as first,
            chat_process(redis.url) as second,
            open_websocket_url(first) as alice,
        ):
            assert await alice.receive() == "* guest1 joined (1 here)"
            async with open_websocket_url(second) as bob:
                # Each process names its own guests and counts its own members.
                assert await bob.receive() == "* guest1 joined (1 here)"
                assert await alice.receive() == "* guest1 joined (1 here)"
                await bob.send("hello from the other process")
                for ws in (alice, bob):
                    assert await ws.receive() == "guest1: hello from the other process"
                await alice.send("hi back")
                for ws in (bob, alice):
                    assert await ws.receive() == "guest1: hi back"
            assert await alice.receive() == "* guest1 left"


async def test_an_unacknowledged_subscribe_reconnects(redis: RedisServer) -> None:
    import coredis

    with trio.fail_after(TIMEOUT):
        async with open_redis_pubsub(redis.url) as hub:
            async with coredis.Redis.from_url(redis.url) as client:
                # Redis answers nothing for 1.5 s: SUBSCRIBE is not acknowledged
                # in time, so the hub starts a new connection.
                await client.client_pause(1500, coredis.PureToken.ALL)
            async with hub.subscribe("paused") as subscription:
                await until(lambda: _reconnected(hub))
                await hub.wait_connected()
                assert await numsub(redis.url, "paused") == {"paused": 1}
                await hub.publish("paused", "through")
                assert await subscription.receive() == "through"


async def _reconnected(hub: RedisPubSub) -> bool:
    return hub.reconnections >= 1


async def test_an_outer_cancellation_leaves_plain(redis: RedisServer) -> None:
    # Repeated: the connection's teardown races the cancellation.
    for _ in range(10):
        with trio.fail_after(TIMEOUT), trio.move_on_after(0.05) as scope:
            async with open_redis_pubsub(redis.url) as hub, hub.subscribe("x") as sub:
                await sub.receive()
        assert scope.cancelled_caught


# Durable mode: Redis Streams (trio_ws/pubsub/_streams.py).


async def test_streams_history_since_an_id_and_only_new_by_default(
    redis: RedisServer,
) -> None:
    from trio_ws.pubsub.redis import open_redis_streams

    with trio.fail_after(TIMEOUT):
        async with open_redis_streams(redis.url) as log:
            ids = [await log.publish("room", m) for m in ("one", b"two", "three")]
            async with log.subscribe("room", since="0-0") as everything:
                got = [await everything.receive() for _ in range(3)]
            assert [entry.id for entry in got] == ids
            assert [entry.message for entry in got] == ["one", b"two", "three"]
            async with log.subscribe("room") as fresh:
                new_id = await log.publish("room", "four")
                entry = await fresh.receive()
                assert entry == (new_id, "four")
                assert fresh.last_id == new_id


async def test_streams_a_late_subscriber_resumes_without_gap(
    redis: RedisServer,
) -> None:
    from trio_ws.pubsub.redis import open_redis_streams

    with trio.fail_after(TIMEOUT):
        async with open_redis_streams(redis.url) as log:
            async with log.subscribe("feed") as first:
                for n in range(2):
                    await log.publish("feed", f"m{n}")
                assert [(await first.receive()).message for _ in range(2)] == [
                    "m0",
                    "m1",
                ]
                seen = first.last_id
            # Gone for a while (a browser reconnecting): two more are published.
            for n in range(2, 4):
                await log.publish("feed", f"m{n}")
            async with log.subscribe("feed", since=seen) as again:
                resumed = [(await again.receive()).message for _ in range(2)]
            assert resumed == ["m2", "m3"]


async def test_streams_a_lost_connection_loses_nothing(redis: RedisServer) -> None:
    import coredis

    from trio_ws.pubsub.redis import open_redis_streams

    with trio.fail_after(TIMEOUT):
        async with (
            open_redis_streams(redis.url) as log,
            log.subscribe("feed") as subscription,
        ):
            await log.publish("feed", "before")
            assert (await subscription.receive()).message == "before"
            async with coredis.Redis.from_url(redis.url) as admin:
                # Drop every other client connection: the reader's too.
                killed = await admin.client_kill(
                    type_=coredis.PureToken.NORMAL, skipme=True
                )
            assert killed
            await log.publish("feed", "while reconnecting")
            await log.publish("feed", "after")
            got = [(await subscription.receive()).message for _ in range(2)]
            assert got == ["while reconnecting", "after"]
            assert subscription.interruptions == 1


async def test_streams_a_slow_subscriber_drops_nothing_and_maxlen_bounds_the_stream(
    redis: RedisServer,
) -> None:
    import coredis

    from trio_ws.pubsub._streams import STREAM_QUEUE_SIZE, stream_key
    from trio_ws.pubsub.redis import open_redis_streams

    count = STREAM_QUEUE_SIZE + 100
    with trio.fail_after(TIMEOUT):
        async with open_redis_streams(redis.url, maxlen=count) as log:
            async with log.subscribe("busy") as slow:
                for n in range(count):
                    await log.publish("busy", f"{n}")
                await trio.sleep(0.2)  # the reader fills the queue and waits
                got = [(await slow.receive()).message for _ in range(count)]
            assert got == [f"{n}" for n in range(count)]
        async with open_redis_streams(redis.url, maxlen=10) as small:
            for n in range(1000):
                await small.publish("small", f"{n}")
            async with coredis.Redis.from_url(redis.url) as admin:
                length = await admin.xlen(stream_key("small"))
            # Approximate trimming keeps whole nodes: bounded, not exact.
            assert 10 <= length < 500
    with pytest.raises(ValueError, match="maxlen"):
        async with open_redis_streams(redis.url, maxlen=0):
            pass
