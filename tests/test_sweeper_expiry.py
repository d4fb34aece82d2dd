"""The sweeper's handshake deadlines (expire_at / cancel_expiry), which
enforce open_timeout on a server's plain socket connections."""

from __future__ import annotations

from trio_ws.connection._sweeper import Sweeper


async def test_an_expiry_is_called_at_its_deadline_unless_cancelled() -> None:
    sweeper = Sweeper()
    called: list[str] = []
    first = sweeper.expire_at(10.0, lambda: called.append("first"))
    sweeper.expire_at(10.0, lambda: called.append("second"))
    assert sweeper.held() == 2
    sweeper.cancel_expiry(first)
    sweeper.sweep(9.9)
    assert called == []
    sweeper.sweep(10.0)
    assert called == ["second"]
    assert sweeper.held() == 0


async def test_cancelling_an_expiry_that_fired_is_harmless() -> None:
    sweeper = Sweeper()
    called: list[int] = []
    key = sweeper.expire_at(1.0, lambda: called.append(1))
    sweeper.sweep(2.0)
    sweeper.cancel_expiry(key)  # (the connection's task, after the drop)
    sweeper.sweep(3.0)
    assert called == [1]
    assert sweeper.held() == 0
    assert sweeper._connections == 0


async def test_cancelled_expiries_do_not_pile_up_in_the_heap() -> None:
    sweeper = Sweeper()
    called: list[int] = []
    live = sweeper.expire_at(100.0, lambda: called.append(0))
    for n in range(1000):
        sweeper.cancel_expiry(sweeper.expire_at(100.0 + n, lambda: called.append(1)))
    assert len(sweeper._heap) <= 2 * 65
    sweeper.sweep(2000.0)
    assert called == [0]
    sweeper.cancel_expiry(live)
    assert sweeper.held() == 0
