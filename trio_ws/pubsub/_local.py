"""Publish/subscribe for broadcasts: a small interface and an in-process hub.

A chat room or a live feed sends each message to every interested
connection. Within one process, :class:`LocalPubSub` does it. Once the
connections are spread over several processes (``reuse_port=True``, or
workers behind a proxy), a message published in one process must reach the
subscribers of all: that takes an adapter over something every process can
reach (Redis pub/sub: ``trio_ws.pubsub.redis``)
that implements the same :class:`PubSub` interface, so handlers do not change.

Slow subscribers: every subscription has a bounded queue; when it is full,
the OLDEST waiting message is dropped and :attr:`Subscription.dropped` counts
it. A publisher therefore never waits for, nor fails because of, a
subscriber: one stalled connection cannot hold up a room. A subscriber that
must not miss anything can watch ``dropped`` and close its connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import trio

__all__ = [
    "DEFAULT_SUBSCRIBER_QUEUE_SIZE",
    "LocalPubSub",
    "Message",
    "PubSub",
    "Subscription",
]

Message = str | bytes

# Messages one subscriber may have waiting before the oldest is dropped. In
# process the queue holds references to messages shared by all subscribers,
# so it costs ~8 bytes a slot; 256 rides out a burst of a busy room while a
# connection's send is blocked by TCP backpressure.
DEFAULT_SUBSCRIBER_QUEUE_SIZE = 256


class Subscription:
    """The messages published on one channel since subscribing, oldest first.

    Get one from ``async with pubsub.subscribe(channel) as subscription``;
    read it with ``async for message in subscription`` or :meth:`receive`.

    Attributes:
        channel: the channel name.
        dropped: messages dropped so far because the queue was full (the
            oldest waiting message goes first).
        interruptions: how many times the pub/sub lost its transport and
            got it back while this subscription was open (an adapter over a
            broker; always 0 in-process). Messages published meanwhile may
            be missing: pub/sub cannot say which.
    """

    def __init__(self, channel: str, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.channel = channel
        self.dropped = 0
        self.interruptions = 0
        self._queue: deque[Message] = deque()
        self._queue_size = queue_size
        self._wakeup = trio.Event()
        self._ended = False
        self._cause: BaseException | None = None
        self._detached = False

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.channel!r} waiting={len(self._queue)} "
            f"dropped={self.dropped}>"
        )

    async def receive(self) -> Message:
        """The next message, waiting for one if needed.

        Raises:
            trio.EndOfChannel: the pub/sub was closed and every message
                published before has been received.
            trio.BrokenResourceError: the pub/sub lost its transport (an
                adapter's connection); ``__cause__`` says why.
            trio.ClosedResourceError: the ``subscribe()`` block was left.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self._queue:
            if self._detached:
                raise trio.ClosedResourceError("this subscription has ended")
            if self._ended:
                if self._cause is not None:
                    raise trio.BrokenResourceError(
                        f"pub/sub lost: {self._cause!r}"
                    ) from self._cause
                raise trio.EndOfChannel
            if self._wakeup.is_set():
                self._wakeup = trio.Event()
            await self._wakeup.wait()
        message = self._queue.popleft()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return message

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def _put(self, message: Message) -> None:
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(message)
        self._wakeup.set()

    def _end(self, cause: BaseException | None) -> None:
        self._ended = True
        self._cause = cause
        self._wakeup.set()

    def _detach(self) -> None:
        self._detached = True
        self._wakeup.set()


class PubSub(Protocol):
    """What a handler needs to broadcast: publish and subscribe by channel.

    :class:`LocalPubSub` implements it within one process; an adapter over a
    broker (Redis pub/sub...) implements it across processes and machines.
    """

    async def publish(self, channel: str, message: Message) -> None:
        """Send ``message`` to every current subscriber of ``channel``."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """``async with pubsub.subscribe(channel) as subscription: ...``."""
        ...


class LocalPubSub:
    """An in-process hub: :class:`PubSub` for the tasks of one process.

    Args:
        queue_size: messages each subscription may have waiting before the
            oldest is dropped (see :attr:`Subscription.dropped`).
    """

    def __init__(self, *, queue_size: int = DEFAULT_SUBSCRIBER_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self._queue_size = queue_size
        self._channels: dict[str, set[Subscription]] = {}
        self._closed = False

    async def publish(self, channel: str, message: Message) -> None:
        """Send ``message`` to every current subscriber of ``channel``.

        Never waits for a subscriber: a full queue drops its oldest message.

        Raises:
            trio.ClosedResourceError: the hub was closed.
        """
        self.publish_nowait(channel, message)
        await trio.lowlevel.checkpoint()

    def publish_nowait(self, channel: str, message: Message) -> int:
        """Like :meth:`publish`, without a checkpoint (adapters deliver with it).

        Returns:
            How many subscriptions received the message.
        """
        if self._closed:
            raise trio.ClosedResourceError("this pub/sub is closed")
        subscribers = self._channels.get(channel, ())
        for subscription in subscribers:
            subscription._put(message)
        return len(subscribers)

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions ``channel`` has now."""
        return len(self._channels.get(channel, ()))

    def note_interruption(self) -> None:
        """The transport was lost and is back: every open subscription counts
        it (:attr:`Subscription.interruptions`). For adapters."""
        for members in self._channels.values():
            for subscription in members:
                subscription.interruptions += 1

    def channels(self) -> list[str]:
        """The channels that have subscriptions now."""
        return [channel for channel, members in self._channels.items() if members]

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe to ``channel`` for the duration of the ``async with``.

        Only messages published after entering are received.

        Raises:
            trio.ClosedResourceError: the hub was closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("this pub/sub is closed")
        subscription = Subscription(channel, self._queue_size)
        members = self._channels.setdefault(channel, set())
        members.add(subscription)
        try:
            yield subscription
        finally:
            subscription._detach()
            members.discard(subscription)
            if not members and self._channels.get(channel) is members:
                del self._channels[channel]

    def close(self, cause: BaseException | None = None) -> None:
        """End every subscription and refuse further use.

        Subscribers first receive what is already queued; then ``async for``
        ends (``cause`` None) or :meth:`Subscription.receive` raises
        :exc:`trio.BrokenResourceError` chained to ``cause`` (an adapter
        that lost its connection). Idempotent: the first cause stays.
        """
        if self._closed:
            return
        self._closed = True
        for members in self._channels.values():
            for subscription in members:
                subscription._end(cause)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed
