"""Masking and unmasking of frame payloads (RFC 6455 5.3).

Masking XORs the payload with a 4-byte key repeated over its length. A
per-byte Python loop would be far too slow, so two pure-Python strategies
are picked by size (one big-integer XOR for short payloads, byte
translation tables for longer ones), and NumPy is used when it is installed
(the optional ``speedups`` extra); it is never required. The measurements
behind the choice are in docs/performance.rst.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["mask", "mask_in_place"]

# Below this size the single big-integer XOR is cheapest; above it the
# four-strided ``bytes.translate`` is (see the table in the module docstring).
_INT_XOR_MAX = 512

# Payloads at least this large go through NumPy when it is importable.
_NUMPY_MIN = 1024

# _XOR_TABLES[k] maps every byte b to b ^ k, for bytes.translate().
_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]

# Imported by name so that type checking does not depend on NumPy's presence.
_np: Any
try:  # pragma: no cover - depends on the environment
    _np = importlib.import_module("numpy")
except ImportError:  # pragma: no cover - depends on the environment
    _np = None


def _mask_int(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    n = len(data)
    repeated = (key * ((n + 3) >> 2))[:n]
    value = int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(n, "little")


def _mask_translate(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    out = bytearray(data)
    tables = _XOR_TABLES
    # Each of the four interleaved byte streams is XORed with one key byte.
    for i in range(4):
        out[i::4] = out[i::4].translate(tables[key[i]])
    return bytes(out)


def _mask_numpy(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    out = bytearray(data)
    words = len(out) >> 2
    view = _np.frombuffer(out, dtype=_np.uint32, count=words)
    view ^= _np.frombuffer(key, dtype=_np.uint32)[0]
    for i in range(words << 2, len(out)):
        out[i] ^= key[i & 3]
    return bytes(out)


def _xor_in_place_numpy(buf: bytearray, start: int, end: int, key: bytes) -> None:
    region = _np.frombuffer(buf, dtype=_np.uint8, count=end - start, offset=start)
    # A payload follows a 2-14 byte header, so it is rarely aligned: XOR the
    # first bytes one by one, then the rest as aligned uint64 words (several
    # times faster than an unaligned view: docs/performance.rst).
    lead = min((-region.ctypes.data) & 7, len(region))
    words = (len(region) - lead) >> 3
    for i in range(lead):
        region[i] ^= key[i & 3]
    if words:
        turn = lead & 3
        word_key = _np.frombuffer((key[turn:] + key[:turn]) * 2, dtype=_np.uint64)
        region[lead : lead + (words << 3)].view(_np.uint64)[:] ^= word_key[0]
    for i in range(lead + (words << 3), len(region)):
        region[i] ^= key[i & 3]
    del region  # releases the buffer export: ``buf`` may be resized again


def _xor_in_place_translate(buf: bytearray, start: int, end: int, key: bytes) -> None:
    tables = _XOR_TABLES
    for i in range(4):
        buf[start + i : end : 4] = buf[start + i : end : 4].translate(tables[key[i]])


def mask_in_place(buf: bytearray, start: int, end: int, key: bytes) -> None:
    """XOR ``buf[start:end]`` with the 4-byte ``key``, in place.

    For large payloads still in the receive buffer: it saves the copy that
    :func:`mask` makes (a 1 MiB payload is one memory pass less).
    """
    if end - start >= _NUMPY_MIN and _np is not None:
        _xor_in_place_numpy(buf, start, end, key)
    elif end > start:
        _xor_in_place_translate(buf, start, end, key)


def mask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` (masking is its own inverse).

    Args:
        data: the payload (bytes or anything bytes() accepts cheaply).
        key: the 4-byte masking key.

    Returns:
        The masked (or unmasked) payload as ``bytes``.
    """
    n = len(data)
    if n == 0:
        return b""
    if n <= _INT_XOR_MAX:
        return _mask_int(data, key)
    if _np is not None and n >= _NUMPY_MIN:
        return _mask_numpy(data, key)
    return _mask_translate(data, key)


def mask_pure_python(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Like :func:`mask` but never uses NumPy (for tests and benchmarks)."""
    if len(data) <= _INT_XOR_MAX:
        return _mask_int(data, key) if data else b""
    return _mask_translate(data, key)
