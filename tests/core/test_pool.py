"""The process-wide pool of receive buffers for large payloads."""

from __future__ import annotations

from trio_ws._core._pool import POOL_MAX_BYTES, RECEIVE_POOL, BufferPool


def test_a_buffer_given_back_is_taken_again() -> None:
    pool = BufferPool(max_bytes=1 << 20)
    first = pool.take(65536)
    assert len(first) == 65536
    pool.give([first])
    assert pool.held == 65536
    assert pool.take(65536) is first
    assert pool.held == 0
    # Another size is a new buffer: sizes are never mixed up.
    assert len(pool.take(131072)) == 131072


def test_the_pool_keeps_no_more_than_its_bound() -> None:
    pool = BufferPool(max_bytes=200_000)
    buffers = [bytearray(65536) for _ in range(3)] + [bytearray(131072)]
    pool.give(buffers)
    # Three 64 KiB buffers fit (196,608 bytes); the 128 KiB one is dropped.
    assert pool.held == 3 * 65536
    assert pool.take(131072) is not buffers[3]
    taken = {id(pool.take(65536)) for _ in range(3)}
    assert taken == {id(b) for b in buffers[:3]}
    assert pool.held == 0


def test_the_receive_pool_has_the_documented_bound() -> None:
    assert RECEIVE_POOL.max_bytes == POOL_MAX_BYTES
    assert RECEIVE_POOL.held <= POOL_MAX_BYTES
