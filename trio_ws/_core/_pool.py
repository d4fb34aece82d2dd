"""Receive buffers for large frame payloads, recycled process-wide.

A large payload is read into buffers of a few sizes (powers of two from
16 KiB to 1 MiB; see ``FrameParser``) and then copied out as one ``bytes``. Allocating
those buffers afresh for every message is what costs most: glibc hands
blocks this big back to the kernel when they are freed, so every new one
starts as untouched pages, and each page costs a fault: a 1 MiB message
paid an order of magnitude more in faults than in copying (measurements:
docs/performance.rst). Recycling them keeps the same memory warm.

The pool is bounded (:data:`POOL_MAX_BYTES` in all, whatever the number of
connections); a buffer given back past the bound is simply dropped. Buffers
are not cleared: whoever takes one only ever exposes the bytes it wrote into
it itself. A lock makes it safe for event loops running in several threads
(it is taken a few times per large message only).
"""

from __future__ import annotations

import threading

__all__ = ["POOL_MAX_BYTES", "BufferPool", "RECEIVE_POOL"]

#: Most bytes the process-wide pool keeps while no frame uses them: the
#: pieces of four 1 MiB payloads.
POOL_MAX_BYTES = 4 << 20


class BufferPool:
    """Free bytearrays by size, at most ``max_bytes`` of them in all."""

    __slots__ = ("_free", "_lock", "held", "max_bytes")

    def __init__(self, max_bytes: int = POOL_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        #: Bytes held in free buffers now.
        self.held = 0
        self._free: dict[int, list[bytearray]] = {}
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of exactly ``size`` bytes (its content is undefined)."""
        with self._lock:
            free = self._free.get(size)
            if free:
                self.held -= size
                return free.pop()
        return bytearray(size)

    def give(self, buffers: list[bytearray]) -> None:
        """Take back buffers nobody uses any more (past the bound: dropped)."""
        with self._lock:
            for buffer in buffers:
                size = len(buffer)
                if self.held + size > self.max_bytes:
                    continue
                self._free.setdefault(size, []).append(buffer)
                self.held += size


#: The pool FrameParser takes its large-payload pieces from.
RECEIVE_POOL = BufferPool()
