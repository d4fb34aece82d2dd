"""A bounded FIFO between a connection's reader task and ``receive()``.

A trio memory channel would do, but it costs ~2.4 KiB per connection (its
state, two channel objects, and the bookkeeping of a waiting receiver), which
is most of what an idle WebSocket costs on top of its socket. This queue has
one job: one producer (the reader task) and any number of consumers, items in
order, a capacity for backpressure, and close(). Waiting uses trio's public
low-level API (``wait_task_rescheduled``), with cancellation handled by the
abort callbacks.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import trio

__all__ = ["EMPTY", "MessageQueue"]

#: What :meth:`MessageQueue.take` returns when no item is buffered.
EMPTY = object()

T = TypeVar("T")


class _Waiter:
    """A task parked in put() or get(), and the item it carries or receives."""

    __slots__ = ("item", "task")

    def __init__(self, task: trio.lowlevel.Task, item: object = None) -> None:
        self.task = task
        self.item = item


class MessageQueue(Generic[T]):
    """Bounded FIFO queue of items for trio tasks.

    ``put()`` waits while ``capacity`` items are buffered; ``get()`` waits
    while none is. After :meth:`close`, ``put()`` raises
    ``trio.ClosedResourceError`` and ``get()`` returns the buffered items,
    then raises ``trio.EndOfChannel``.
    """

    __slots__ = ("_buffer", "_capacity", "_closed", "_getters", "_putters")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        # Lists, not deques: an empty deque costs ~760 bytes, an empty list 56,
        # and these hold at most ``capacity`` items (pop(0) stays cheap).
        self._buffer: list[T] = []
        # Parked tasks, created on first use (most queues never need them).
        self._getters: list[_Waiter] | None = None
        self._putters: list[_Waiter] | None = None
        self._closed = False

    def __len__(self) -> int:
        """Number of buffered items."""
        return len(self._buffer)

    # ------------------------------------------------------------------- put

    def put_nowait(self, item: T) -> None:
        """Add ``item`` or raise ``trio.WouldBlock`` when the queue is full."""
        if self._closed:
            raise trio.ClosedResourceError("the queue is closed")
        getters = self._getters
        if getters:
            waiter = getters.pop(0)
            waiter.item = item
            trio.lowlevel.reschedule(waiter.task)
            return
        if len(self._buffer) >= self._capacity:
            raise trio.WouldBlock
        self._buffer.append(item)

    def push(self, item: T) -> None:
        """Add ``item`` even beyond the capacity (ClosedResourceError if closed).

        For a reader that must not wait: the caller bounds the overflow (the
        events of one read from the transport).
        """
        if self._closed or self._getters:
            self.put_nowait(item)  # (raises, or hands over to a waiting get())
        else:
            self._buffer.append(item)

    def push_all(self, items: list[T]) -> None:
        """:meth:`push` each of ``items``, in order (one call for the
        messages of one read)."""
        if self._closed or self._getters:
            for item in items:
                self.push(item)
        else:
            self._buffer.extend(items)

    async def put(self, item: T) -> None:
        """Add ``item``, waiting while the queue is full."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self.put_nowait(item)
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self._putters is None:
            self._putters = []
        waiter = await _park(self._putters, item)
        if waiter.item is _CLOSED:
            raise trio.ClosedResourceError("the queue was closed")

    # ------------------------------------------------------------------- get

    def get_nowait(self) -> T:
        """Take the oldest item; raise trio.WouldBlock or trio.EndOfChannel if none."""
        buffer = self._buffer
        if buffer:
            item = buffer.pop(0)
            putters = self._putters
            if putters:
                # Room now: the oldest parked put() moves its item in.
                waiter = putters.pop(0)
                buffer.append(waiter.item)  # type: ignore[arg-type]
                waiter.item = None
                trio.lowlevel.reschedule(waiter.task)
            return item
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    def take(self) -> T | object:
        """The oldest item, or :data:`EMPTY` if none (closed or not).

        ``get_nowait()`` without exceptions, for the per-message hot path.
        """
        if self._buffer and not self._putters:
            return self._buffer.pop(0)
        try:
            return self.get_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return EMPTY

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    async def get(self) -> T:
        """Take the oldest item, waiting for one.

        Raises:
            trio.EndOfChannel: the queue is closed and empty.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            item = self.get_nowait()
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        if self._getters is None:
            self._getters = []
        waiter = await _park(self._getters, _EMPTY)
        if waiter.item is _CLOSED:
            raise trio.EndOfChannel
        return waiter.item  # type: ignore[return-value]

    # ----------------------------------------------------------------- close

    def close(self) -> None:
        """Refuse further puts; wake every parked task. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for parked in (self._getters, self._putters):
            while parked:
                waiter = parked.pop(0)
                waiter.item = _CLOSED
                trio.lowlevel.reschedule(waiter.task)


async def _park(waiters: list[_Waiter], item: object) -> _Waiter:
    """Wait in ``waiters`` until another task reschedules us; return our slot.

    Cancellation removes the waiter, so no item is handed to a task that left.
    """
    waiter = _Waiter(trio.lowlevel.current_task(), item)
    waiters.append(waiter)

    def abort(_: object) -> trio.lowlevel.Abort:
        waiters.remove(waiter)
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)
    return waiter


# Markers handed to parked tasks.
_EMPTY = object()
_CLOSED = object()
