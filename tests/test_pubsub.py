"""LocalPubSub: fan-out by channel, bounded queues that drop the oldest, closing."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws import LocalPubSub, Subscription


async def test_publish_reaches_every_subscriber_of_its_channel_only() -> None:
    hub = LocalPubSub()
    await hub.publish("room", "before anyone listened")
    async with (
        hub.subscribe("room") as alice,
        hub.subscribe("room") as bob,
        hub.subscribe("other") as carol,
    ):
        assert hub.subscriber_count("room") == 2
        await hub.publish("room", "one")
        await hub.publish("room", b"two")
        assert hub.publish_nowait("other", "three") == 1
        for subscription in (alice, bob):
            assert await subscription.receive() == "one"
            assert await subscription.receive() == b"two"
        assert await carol.receive() == "three"
        assert (alice.dropped, bob.dropped, carol.dropped) == (0, 0, 0)
    assert hub.subscriber_count("room") == 0
    assert hub.publish_nowait("room", "nobody") == 0


async def test_a_slow_subscriber_loses_its_oldest_messages_not_the_others() -> None:
    hub = LocalPubSub(queue_size=4)
    async with hub.subscribe("feed") as fast, hub.subscribe("feed") as slow:
        for n in range(10):
            # The publisher never waits: it returns whatever the slow one does.
            assert hub.publish_nowait("feed", str(n)) == 2
            assert await fast.receive() == str(n)
        assert fast.dropped == 0
        assert slow.dropped == 6
        assert [await slow.receive() for _ in range(4)] == ["6", "7", "8", "9"]
        await hub.publish("feed", "10")
        assert await slow.receive() == "10"
        assert slow.dropped == 6


async def test_receive_waits_for_a_message(autojump_clock: trio.abc.Clock) -> None:
    hub = LocalPubSub()
    got: list[str | bytes] = []
    async with hub.subscribe("c") as subscription, trio.open_nursery() as nursery:

        async def reader() -> None:
            got.extend([await subscription.receive() for _ in range(2)])

        nursery.start_soon(reader)
        await trio.sleep(1)
        assert got == []
        await hub.publish("c", "a")
        await trio.sleep(1)
        await hub.publish("c", "b")
    assert got == ["a", "b"]


async def test_a_cancelled_receive_loses_nothing(
    autojump_clock: trio.abc.Clock,
) -> None:
    hub = LocalPubSub()
    async with hub.subscribe("c") as subscription:
        with trio.move_on_after(1) as scope:
            await subscription.receive()
        assert scope.cancelled_caught
        await hub.publish("c", "kept")
        with trio.CancelScope() as scope:
            scope.cancel()
            await subscription.receive()  # cancelled before taking it
        assert await subscription.receive() == "kept"


async def test_close_delivers_what_is_queued_then_ends_iteration() -> None:
    hub = LocalPubSub()
    async with hub.subscribe("c") as subscription:
        await hub.publish("c", "last")
        hub.close()
        hub.close()  # idempotent
        assert [message async for message in subscription] == ["last"]
        with pytest.raises(trio.EndOfChannel):
            await subscription.receive()
    assert hub.closed
    with pytest.raises(trio.ClosedResourceError):
        await hub.publish("c", "late")
    with pytest.raises(trio.ClosedResourceError):
        async with hub.subscribe("c"):
            pass  # pragma: no cover


async def test_close_with_a_cause_breaks_the_subscriptions() -> None:
    hub = LocalPubSub()
    lost = ConnectionResetError("relay gone")
    async with hub.subscribe("c") as subscription:
        hub.close(lost)
        with pytest.raises(trio.BrokenResourceError) as info:
            async for _ in subscription:
                pass  # pragma: no cover
        assert info.value.__cause__ is lost


async def test_a_subscription_is_unusable_after_its_block() -> None:
    hub = LocalPubSub()
    async with hub.subscribe("c") as subscription:
        pass
    assert isinstance(subscription, Subscription)
    await hub.publish("c", "unseen")
    with pytest.raises(trio.ClosedResourceError):
        await subscription.receive()


async def test_leaving_the_block_wakes_a_waiting_reader() -> None:
    hub = LocalPubSub()
    async with trio.open_nursery() as nursery, hub.subscribe("c") as subscription:

        async def reader() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await subscription.receive()

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()


@pytest.mark.parametrize("size", [0, -1])
async def test_queue_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="queue_size"):
        LocalPubSub(queue_size=size)


async def test_channels_lists_those_with_subscribers() -> None:
    hub = LocalPubSub()
    assert hub.channels() == []
    async with hub.subscribe("a"), hub.subscribe("b"):
        assert sorted(hub.channels()) == ["a", "b"]
        async with hub.subscribe("a"):
            assert sorted(hub.channels()) == ["a", "b"]
    assert hub.channels() == []


async def test_note_interruption_counts_on_open_subscriptions_only() -> None:
    hub = LocalPubSub()
    async with hub.subscribe("a") as a:
        hub.note_interruption()
        async with hub.subscribe("b") as b:
            hub.note_interruption()
            assert (a.interruptions, b.interruptions) == (2, 1)
        hub.note_interruption()
        assert (a.interruptions, b.interruptions) == (3, 1)
