"""The process-wide pool of receive buffers for large payloads."""

from __future__ import annotations

import sys
import threading

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


def test_threads_sharing_the_pool_keep_its_count_exact() -> None:
    # Event loops in several threads share the process-wide pool: every
    # buffer handed out is a distinct object, and the count stays right.
    pool = BufferPool(max_bytes=64 * 4096)
    pool.give([bytearray(4096) for _ in range(64)])
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(2000):
                taken = [pool.take(4096) for _ in range(3)]
                assert len({id(b) for b in taken}) == 3
                pool.give(taken)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert pool.held == 64 * 4096
    assert len({id(pool.take(4096)) for _ in range(64)}) == 64
    assert pool.held == 0
