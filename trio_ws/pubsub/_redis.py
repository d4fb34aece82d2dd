"""Pub/sub across processes and machines, over Redis (or Valkey) PUBLISH/SUBSCRIBE.

Needs the ``redis`` extra (``pip install 'trio_ws[redis]'``), which installs
the coredis client; this module imports coredis only when a hub is opened,
so ``trio_ws`` imports without it. Use::

    async with open_redis_pubsub("redis://127.0.0.1:6379/0") as hub:
        ...  # hub.publish(...), hub.subscribe(...): the PubSub protocol

One broker connection carries every subscription of the process: a channel
is SUBSCRIBEd when its first local subscriber arrives and UNSUBSCRIBEd when
its last one leaves; messages fan out inside the process through a
:class:`~trio_ws.LocalPubSub`, whose queues are bounded (slow subscribers
lose their oldest messages, see :attr:`~trio_ws.Subscription.dropped`).

Broker faults: when the connection is lost, subscriptions stay open (their
handlers keep running, and receive nothing), :meth:`RedisPubSub.publish`
raises :exc:`BrokerUnavailable`, and a background task reconnects with
exponential backoff and jitter, then SUBSCRIBEs every channel that still has
local subscribers. Messages published while the connection was down are
lost: Redis pub/sub keeps nothing for absent subscribers.

Wire format: Redis carries bytes, trio_ws messages are ``str`` or ``bytes``;
a message is sent as one marker byte (``t`` text, UTF-8; ``b`` binary) and
the payload, so a receiver gets back the type that was published.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from .._scopes import body_error_wins, hidden_nursery, leaves
from ._local import DEFAULT_SUBSCRIBER_QUEUE_SIZE, LocalPubSub, Message, Subscription

if TYPE_CHECKING:
    import coredis

__all__ = [
    "PUBLISH_TIMEOUT",
    "RECONNECT_DELAY_FIRST",
    "RECONNECT_DELAY_MAX",
    "BrokerUnavailable",
    "RedisPubSub",
    "open_redis_pubsub",
]

logger = logging.getLogger("trio_ws.pubsub.redis")

# Seconds a publish (connecting included) may take before it fails with
# BrokerUnavailable: a broker that is down must not hold up a handler.
PUBLISH_TIMEOUT = 2.0
# Reconnection backoff: the first wait, doubled after every failed attempt up
# to the cap; each wait is then multiplied by a random factor in [0.5, 1] so
# that many processes do not all reconnect at the same instant.
RECONNECT_DELAY_FIRST = 0.1
RECONNECT_DELAY_MAX = 5.0

_TEXT = b"t"
_BINARY = b"b"


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached: the message was not published.

    A :exc:`ConnectionError` (hence an :exc:`OSError`); ``__cause__`` holds
    the client's error. The hub keeps reconnecting in the background: a later
    publish may succeed.
    """


def encode(message: Message) -> bytes:
    """The bytes sent to the broker for ``message`` (marker byte + payload)."""
    if isinstance(message, str):
        return _TEXT + message.encode()
    return _BINARY + bytes(message)


def decode(data: bytes) -> Message | None:
    """The message ``data`` carries; None when it is not in our format."""
    marker, payload = data[:1], data[1:]
    if marker == _TEXT:
        try:
            return payload.decode()
        except UnicodeDecodeError:
            return None
    if marker == _BINARY:
        return payload
    return None


def next_delay(previous: float | None) -> float:
    """The backoff step after ``previous`` (None: the first failure)."""
    if previous is None:
        return RECONNECT_DELAY_FIRST
    return min(previous * 2, RECONNECT_DELAY_MAX)


class RedisPubSub:
    """:class:`~trio_ws.PubSub` over Redis; get one from :func:`open_redis_pubsub`.

    Attributes:
        reconnections: how many times the subscription connection was
            re-established after being lost (each open subscription counts
            the ones it lived through in
            :attr:`~trio_ws.Subscription.interruptions`).
    """

    def __init__(self, client: coredis.Redis[bytes], queue_size: int) -> None:
        self._client = client
        self._local = LocalPubSub(queue_size=queue_size)
        self._broker: Any = None  # the coredis PubSub while connected
        # Channels SUBSCRIBEd on the current connection; the lock serializes
        # (UN)SUBSCRIBE commands and the re-subscription after a reconnection.
        self._on_broker: set[str] = set()
        self._sync_lock = trio.Lock()
        self._connected = trio.Event()
        self._connection_scope = trio.CancelScope()
        self.reconnections = 0

    @property
    def connected(self) -> bool:
        """True while the subscription connection is up."""
        return self._broker is not None

    async def wait_connected(self) -> None:
        """Wait until the subscription connection is up."""
        await self._connected.wait()

    async def publish(self, channel: str, message: Message) -> None:
        """Send ``message`` to every subscriber of ``channel``, in every process.

        Raises:
            BrokerUnavailable: the broker did not take the message within
                :data:`PUBLISH_TIMEOUT` seconds.
            trio.ClosedResourceError: the hub was closed.
        """
        import coredis.exceptions

        if self._local.closed:
            raise trio.ClosedResourceError("this pub/sub is closed")
        try:
            with trio.fail_after(PUBLISH_TIMEOUT):
                await self._client.publish(channel, encode(message))
        except (coredis.exceptions.RedisError, OSError, trio.TooSlowError) as exc:
            raise BrokerUnavailable(f"could not publish to Redis: {exc!r}") from exc

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions ``channel`` has in this process."""
        return self._local.subscriber_count(channel)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe to ``channel`` for the duration of the ``async with``.

        Messages published (by any process) after entering are received;
        while the broker is unreachable the subscription stays open and
        receives nothing.

        Raises:
            trio.ClosedResourceError: the hub was closed.
        """
        try:
            async with self._local.subscribe(channel) as subscription:
                await self._sync(channel)
                yield subscription
        finally:
            with trio.CancelScope(shield=True):
                await self._sync(channel)

    async def _sync(self, channel: str) -> None:
        """(UN)SUBSCRIBE ``channel`` so that the broker matches local interest.

        Without a connection it does nothing: the reconnection subscribes
        every channel that has local subscribers then.
        """
        async with self._sync_lock:
            broker = self._broker
            wanted = self._local.subscriber_count(channel) > 0
            if broker is None or wanted == (channel in self._on_broker):
                return
            try:
                if wanted:
                    await broker.subscribe(channel)
                    self._on_broker.add(channel)
                else:
                    self._on_broker.discard(channel)
                    await broker.unsubscribe(channel)
            except Exception as exc:
                # Lost meanwhile, or no acknowledgement: either way the broker
                # may not match; a new connection re-subscribes from scratch.
                logger.warning("(UN)SUBSCRIBE %r failed: %r", channel, exc)
                if broker is self._broker:
                    self._connection_scope.cancel()

    def _live_channels(self) -> list[str]:
        """The channels that have subscribers in this process."""
        return self._local.channels()

    async def _listen_once(self, up: Callable[[], object]) -> None:
        """One subscription connection: subscribe, deliver until it is lost."""
        pubsub = self._client.pubsub(retry_policy=None, ignore_subscribe_messages=True)
        self._connection_scope = trio.CancelScope()
        with self._connection_scope:
            await self._listen_on(pubsub, up)

    async def _listen_on(self, pubsub: Any, up: Callable[[], object]) -> None:
        async with pubsub:
            async with self._sync_lock:
                channels = self._live_channels()
                if channels:
                    await pubsub.subscribe(*channels)
                self._on_broker = set(channels)
                self._broker = pubsub
            self._connected.set()
            up()
            while True:
                item = await pubsub.get_message()
                if item is None:
                    continue
                data = item["data"]
                channel = item["channel"]
                if not isinstance(data, bytes) or not isinstance(channel, bytes):
                    continue
                message = decode(data)
                if message is not None:
                    self._local.publish_nowait(channel.decode(), message)

    async def _listen(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Keep a subscription connection up for as long as the hub is open.

        Raises:
            BrokerUnavailable: the very first connection failed.
        """
        delay: float | None = None
        up: Callable[[], object] = task_status.started
        first = True
        while True:
            try:
                await self._listen_once(up)
            except BaseException as exc:  # (a group from coredis's task group)
                if trio.current_effective_deadline() == -math.inf:
                    # The hub is closing: what the connection's teardown
                    # raised meanwhile does not matter.
                    return
                if not all(
                    isinstance(leaf, (Exception, trio.Cancelled))
                    for leaf in leaves(exc)
                ):
                    raise
                if first and self._broker is None:
                    raise BrokerUnavailable(f"cannot reach Redis: {exc!r}") from exc
                if self._broker is not None:
                    logger.warning("Redis subscription connection lost: %r", exc)
                else:
                    logger.debug("Redis reconnection failed: %r", exc)
            if self._broker is not None:  # it was up: start the backoff over
                self._broker = None
                self._on_broker = set()
                self._connected = trio.Event()
                delay = None
            up, first = self._count_reconnection, False
            delay = next_delay(delay)
            await trio.sleep(delay * random.uniform(0.5, 1.0))

    def _count_reconnection(self) -> None:
        self.reconnections += 1
        self._local.note_interruption()


@asynccontextmanager
async def open_redis_pubsub(
    url: str, *, queue_size: int = DEFAULT_SUBSCRIBER_QUEUE_SIZE
) -> AsyncIterator[RedisPubSub]:
    """Open a hub over the Redis (or Valkey) server at ``url``.

    Args:
        url: ``redis://host:port/db`` (any URL coredis accepts).
        queue_size: messages each local subscription may have waiting before
            the oldest is dropped.

    Raises:
        BrokerUnavailable: the first connection failed (later losses are
            retried in the background).
    """
    import coredis

    client: coredis.Redis[bytes] = coredis.Redis.from_url(
        url, connect_timeout=PUBLISH_TIMEOUT, stream_timeout=None
    )
    hub = RedisPubSub(client, queue_size)
    async with body_error_wins(client), hidden_nursery() as nursery:
        try:
            await nursery.start(hub._listen)
            yield hub
        finally:
            hub._local.close()
            hub._broker = None
