"""Durable pub/sub over Redis (or Valkey) Streams: resume from an id.

Redis pub/sub (``_redis.py``) forgets a message once it is delivered to the
subscribers connected at that instant. A stream keeps the last messages of
a channel (``XADD`` with an approximate ``MAXLEN``), each under an id, and a
reader asks for what came after an id (``XREAD``). So a subscriber that
reconnects, or a chat client that joins late and says which message it saw
last, gets everything since, with no gap, as long as the stream still holds
it (the newest ``maxlen`` messages, approximately).

Use::

    async with open_redis_streams("redis://127.0.0.1:6379/0") as log:
        entry_id = await log.publish("room", "hello")
        async with log.subscribe("room", since=last_seen_id) as subscription:
            async for entry in subscription:       # StreamEntry(id, message)
                ...

Each subscription reads with its own blocking ``XREAD`` (coredis gives each
its own pooled connection of a reading client, which does not retry by
itself: the subscription's reader does, and counts it). Its queue is
bounded and nothing is dropped: a subscriber that does not read makes its
reader wait, and the stream keeps the messages meanwhile. A lost
connection is retried with the backoff of the pub/sub adapter, from the
last id delivered: the subscription sees no gap.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, NamedTuple

import trio

from .._scopes import body_error_wins, hidden_nursery
from ._local import Message
from ._redis import (
    PUBLISH_TIMEOUT,
    BrokerUnavailable,
    decode,
    encode,
    next_delay,
)

if TYPE_CHECKING:
    import coredis

__all__ = [
    "DEFAULT_STREAM_MAXLEN",
    "READ_BLOCK_MS",
    "READ_COUNT",
    "STREAM_QUEUE_SIZE",
    "RedisStreams",
    "StreamEntry",
    "StreamSubscription",
    "open_redis_streams",
]

#: Messages a channel's stream keeps (approximately: Redis trims whole
#: nodes): how far back a late or reconnecting subscriber can resume.
DEFAULT_STREAM_MAXLEN = 10_000
#: Milliseconds one XREAD waits for new entries before it is asked again.
READ_BLOCK_MS = 5_000
#: Entries one XREAD returns at most.
READ_COUNT = 100
#: Entries a subscription holds before its reader waits (nothing is dropped).
STREAM_QUEUE_SIZE = 256

# The field of a stream entry that holds the message (marker byte + payload,
# as in _redis.py).
_FIELD = b"m"
# Where a stream's ids start: "everything".
_START = "0-0"


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode()


def stream_key(channel: str) -> str:
    """The Redis key of a channel's stream."""
    return f"trio_ws:stream:{channel}"


class StreamEntry(NamedTuple):
    """One message of a stream and its id (resume after it with ``since=id``)."""

    id: str
    message: Message


class StreamSubscription:
    """The messages of one channel after a given id, oldest first.

    Attributes:
        channel: the channel name.
        last_id: the id of the last entry received (``since`` for a resume),
            or the id the subscription started after.
        interruptions: connection losses its reader lived through (no
            message was missed for them, as long as the stream held it).
    """

    def __init__(
        self, channel: str, since: str, receive: trio.MemoryReceiveChannel[StreamEntry]
    ) -> None:
        self.channel = channel
        self.last_id = since
        self.interruptions = 0
        self._receive = receive

    async def receive(self) -> StreamEntry:
        """The next entry, waiting for one.

        Raises:
            trio.EndOfChannel: the subscription's reader ended.
        """
        entry = await self._receive.receive()
        self.last_id = entry.id
        return entry

    def __aiter__(self) -> StreamSubscription:
        return self

    async def __anext__(self) -> StreamEntry:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class RedisStreams:
    """Durable pub/sub on Redis Streams; get one from :func:`open_redis_streams`."""

    def __init__(
        self, client: coredis.Redis[bytes], reader: coredis.Redis[bytes], maxlen: int
    ) -> None:
        self._client = client  # publishing (coredis retries a lost connection)
        self._reader = reader  # XREAD, without retries: _read owns them
        self._maxlen = maxlen

    async def publish(self, channel: str, message: Message) -> str:
        """Append ``message`` to ``channel``'s stream; returns its id.

        Raises:
            BrokerUnavailable: Redis did not take it within ``PUBLISH_TIMEOUT``.
        """
        import coredis
        import coredis.exceptions

        try:
            with trio.fail_after(PUBLISH_TIMEOUT):
                entry_id = await self._client.xadd(
                    stream_key(channel),
                    {_FIELD: encode(message)},
                    trim_strategy=coredis.PureToken.MAXLEN,
                    threshold=self._maxlen,
                    trim_operator=coredis.PureToken.APPROXIMATELY,
                )
        except (coredis.exceptions.RedisError, OSError, trio.TooSlowError) as exc:
            raise BrokerUnavailable(f"could not append to Redis: {exc!r}") from exc
        assert entry_id is not None  # (None only with NOMKSTREAM)
        return entry_id.decode()

    async def last_id(self, channel: str) -> str:
        """The id of the newest message of ``channel`` ("0-0" when none)."""
        newest = await self._client.xrevrange(stream_key(channel), count=1)
        return _text(newest[0].identifier) if newest else _START

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, since: str | None = None
    ) -> AsyncIterator[StreamSubscription]:
        """Receive ``channel``'s messages after the id ``since`` ("0-0": all
        the stream holds; None, the default: only those published from now).

        Raises:
            BrokerUnavailable: Redis could not be asked where the stream ends
                (only with ``since=None``).
        """
        import coredis.exceptions

        if since is None:
            try:
                with trio.fail_after(PUBLISH_TIMEOUT):
                    since = await self.last_id(channel)
            except (coredis.exceptions.RedisError, OSError, trio.TooSlowError) as exc:
                raise BrokerUnavailable(f"cannot reach Redis: {exc!r}") from exc
        send, receive = trio.open_memory_channel[StreamEntry](STREAM_QUEUE_SIZE)
        subscription = StreamSubscription(channel, since, receive)
        async with hidden_nursery() as nursery:
            nursery.start_soon(self._read, subscription, since, send)
            yield subscription

    async def _read(
        self,
        subscription: StreamSubscription,
        after: str,
        send: trio.MemorySendChannel[StreamEntry],
    ) -> None:
        """Read the stream after ``after`` into ``send``, reconnecting with
        backoff from the last id read (never raises but Cancelled)."""
        import coredis.exceptions

        key = stream_key(subscription.channel)
        delay: float | None = None
        async with send:
            while True:
                try:
                    result = await self._reader.xread(
                        {key: after}, count=READ_COUNT, block=READ_BLOCK_MS
                    )
                except (coredis.exceptions.RedisError, OSError):
                    delay = next_delay(delay)
                    await trio.sleep(delay * random.uniform(0.5, 1.0))
                    continue
                if delay is not None:  # back after a loss
                    subscription.interruptions += 1
                    delay = None
                for entries in (result or {}).values():
                    for entry in entries:
                        after = _text(entry.identifier)
                        value = entry.field_values.get(_FIELD, b"")
                        message = decode(value if isinstance(value, bytes) else b"")
                        if message is not None:
                            await send.send(StreamEntry(after, message))


@asynccontextmanager
async def open_redis_streams(
    url: str, *, maxlen: int = DEFAULT_STREAM_MAXLEN
) -> AsyncIterator[RedisStreams]:
    """Open durable pub/sub over the Redis (or Valkey) server at ``url``.

    Args:
        url: ``redis://host:port/db`` (any URL coredis accepts).
        maxlen: messages each channel's stream keeps (approximately).

    Raises:
        ValueError: ``maxlen`` is not positive.
    """
    import coredis
    import coredis.retry

    if maxlen < 1:
        raise ValueError(f"maxlen must be at least 1, not {maxlen}")
    client: coredis.Redis[bytes] = coredis.Redis.from_url(
        url, connect_timeout=PUBLISH_TIMEOUT, stream_timeout=None
    )
    reader: coredis.Redis[bytes] = coredis.Redis.from_url(
        url,
        connect_timeout=PUBLISH_TIMEOUT,
        stream_timeout=None,
        retry_policy=coredis.retry.NoRetryPolicy(),
    )
    async with body_error_wins(client), body_error_wins(reader):
        yield RedisStreams(client, reader, maxlen)
