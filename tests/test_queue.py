"""MessageQueue: the bounded FIFO between the reader task and receive()."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws.connection._queue import MessageQueue


async def test_fifo_and_nowait() -> None:
    queue = MessageQueue[int](3)
    for i in range(3):
        queue.put_nowait(i)
    with pytest.raises(trio.WouldBlock):
        queue.put_nowait(3)
    assert len(queue) == 3
    assert [queue.get_nowait() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()
    with pytest.raises(ValueError):
        MessageQueue[int](0)


async def test_push_all_goes_past_the_capacity_and_hands_to_a_parked_getter(
    nursery: trio.Nursery,
) -> None:
    queue = MessageQueue[int](2)
    queue.push_all([0, 1, 2])  # one read's messages: bounded by the caller
    assert len(queue) == 3
    assert [queue.get_nowait() for _ in range(3)] == [0, 1, 2]
    got: list[int] = []

    async def consumer() -> None:
        got.append(await queue.get())

    nursery.start_soon(consumer)
    await trio.testing.wait_all_tasks_blocked()
    queue.push_all([3, 4])  # the first to the waiting get(), the rest buffered
    await trio.testing.wait_all_tasks_blocked()
    assert got == [3]
    assert queue.get_nowait() == 4
    queue.close()
    with pytest.raises(trio.ClosedResourceError):
        queue.push_all([5])


async def test_put_waits_while_full_and_keeps_order(nursery: trio.Nursery) -> None:
    queue = MessageQueue[int](1)
    done: list[int] = []

    async def producer() -> None:
        for i in range(5):
            await queue.put(i)
            done.append(i)

    nursery.start_soon(producer)
    await trio.testing.wait_all_tasks_blocked()
    assert done == [0]  # 0 buffered, put(1) parked: backpressure
    assert [await queue.get() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_get_waits_for_an_item(nursery: trio.Nursery) -> None:
    queue = MessageQueue[str](2)
    got: list[str] = []

    async def consumer() -> None:
        got.append(await queue.get())
        got.append(await queue.get())

    nursery.start_soon(consumer)
    await trio.testing.wait_all_tasks_blocked()
    queue.put_nowait("a")  # handed straight to the parked getter
    await queue.put("b")
    await trio.testing.wait_all_tasks_blocked()
    assert got == ["a", "b"]
    assert len(queue) == 0


async def test_close_drains_then_ends_and_wakes_everyone(nursery: trio.Nursery) -> None:
    queue = MessageQueue[int](1)
    queue.put_nowait(1)
    outcomes: list[str] = []

    async def parked_put() -> None:
        try:
            await queue.put(2)
        except trio.ClosedResourceError:
            outcomes.append("put closed")

    nursery.start_soon(parked_put)
    await trio.testing.wait_all_tasks_blocked()
    queue.close()
    queue.close()  # idempotent
    await trio.testing.wait_all_tasks_blocked()
    assert outcomes == ["put closed"]
    assert await queue.get() == 1  # buffered items survive the close
    with pytest.raises(trio.EndOfChannel):
        await queue.get()
    with pytest.raises(trio.ClosedResourceError):
        queue.put_nowait(3)


async def test_close_wakes_a_parked_getter(nursery: trio.Nursery) -> None:
    queue = MessageQueue[int](1)
    ended = trio.Event()

    async def getter() -> None:
        with pytest.raises(trio.EndOfChannel):
            await queue.get()
        ended.set()

    nursery.start_soon(getter)
    await trio.testing.wait_all_tasks_blocked()
    queue.close()
    await ended.wait()


async def test_cancelled_waiters_leave_no_trace() -> None:
    queue = MessageQueue[int](1)
    with trio.move_on_after(0.01):
        await queue.get()
    queue.put_nowait(1)  # goes to the buffer, not to the cancelled getter
    with trio.move_on_after(0.01):
        await queue.put(2)
    assert queue.get_nowait() == 1
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()  # the cancelled put's item was not added


async def test_every_operation_honours_cancellation() -> None:
    queue = MessageQueue[int](1)
    queue.put_nowait(1)
    with trio.CancelScope() as scope:
        scope.cancel()
        await queue.get()  # an item is ready, but the scope is cancelled
    assert scope.cancelled_caught
    assert len(queue) == 1
