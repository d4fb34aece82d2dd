"""Masking and unmasking of frame payloads (RFC 6455 5.3).

Masking XORs the payload with a 4-byte key repeated over its length. The
compiled kernel (``_cmask.c``, built by ``pip install`` when a C compiler is
present) does it at memory speed; this module is its pure-Python twin, used
when the kernel is missing or ``TRIO_WS_NO_EXTENSIONS=1``. A per-byte Python
loop would be far too slow, so two pure-Python strategies are picked by
size (one big-integer XOR for short payloads, byte translation tables for
longer ones). The measurements behind the choice are in
docs/performance.rst.
"""

from __future__ import annotations

from collections.abc import Callable

from ._extensions import NO_EXTENSIONS

__all__ = ["COMPILED", "mask", "mask_in_place"]

# Below this size the single big-integer XOR is cheapest; above it the
# four-strided ``bytes.translate`` is (see the table in the module docstring).
_INT_XOR_MAX = 512

# _XOR_TABLES[k] maps every byte b to b ^ k, for bytes.translate().
_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]


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


def _xor_in_place_translate(buf: bytearray, start: int, end: int, key: bytes) -> None:
    tables = _XOR_TABLES
    for i in range(4):
        buf[start + i : end : 4] = buf[start + i : end : 4].translate(tables[key[i]])


def mask_in_place_pure_python(buf: bytearray, start: int, end: int, key: bytes) -> None:
    """XOR ``buf[start:end]`` with the 4-byte ``key``, in place.

    For large payloads still in the receive buffer: it saves the copy that
    :func:`mask` makes (a 1 MiB payload is one memory pass less).
    """
    if end > start:
        _xor_in_place_translate(buf, start, end, key)


def mask_pure_python(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
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
    return _mask_translate(data, key)


mask: Callable[[bytes | bytearray | memoryview, bytes], bytes]
mask_in_place: Callable[[bytearray, int, int, bytes], None]
mask, mask_in_place = mask_pure_python, mask_in_place_pure_python

#: True when the C kernel is in use, False for the pure-Python twin.
COMPILED = False

if not NO_EXTENSIONS:  # pragma: no branch
    try:
        from ._cmask import mask as _c_mask
        from ._cmask import mask_in_place as _c_mask_in_place
    except ImportError:  # pragma: no cover - not built (no C compiler)
        pass
    else:
        mask, mask_in_place, COMPILED = _c_mask, _c_mask_in_place, True
