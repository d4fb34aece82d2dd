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

__all__ = [
    "COMPILED",
    "mask",
    "mask_in_place",
    "mask_join",
    "mask_slice",
    "unmask_pieces_in_place",
]

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


def mask_slice_pure_python(buf: bytearray, start: int, end: int, key: bytes) -> bytes:
    """Return ``buf[start:end]`` XORed with the 4-byte ``key``.

    For a payload in the receive buffer: the C kernel reads it and writes
    the result in one pass. This twin unmasks ``buf[start:end]`` in place,
    then copies it out (cheaper here than :func:`mask`); callers must not
    rely on what that region holds afterwards.
    """
    mask_in_place_pure_python(buf, start, end, key)
    with memoryview(buf) as view, view[start:end] as window:
        return bytes(window)


def mask_join_pure_python(
    pieces: list[bytearray], length: int, key: bytes, start: int
) -> bytes:
    """Return the first ``length`` bytes of ``pieces`` joined, those at
    offsets ``start`` and later XORed with the 4-byte ``key`` (the key's
    phase counted from offset 0: the bytes before ``start`` were unmasked
    already).

    For a large payload received in pieces: the C kernel unmasks while it
    joins, in one pass. This twin unmasks the pieces in place, then joins
    them; callers must not rely on what the pieces hold afterwards.

    Raises:
        ValueError: the pieces hold fewer than ``length`` bytes.
    """
    unmask_pieces_in_place(pieces, start, length, key)
    parts: list[bytearray | memoryview] = []
    views: list[memoryview] = []
    begin = 0
    try:
        for piece in pieces:
            if begin >= length:
                break
            end = min(len(piece), length - begin)
            if end == len(piece):
                parts.append(piece)
            else:
                view = memoryview(piece)
                tail = view[:end]
                views += (tail, view)
                parts.append(tail)
            begin += end
        if begin < length:
            raise ValueError("the pieces hold fewer than length bytes")
        return b"".join(parts)
    finally:
        for view in views:  # (each slice before the view it is cut from)
            view.release()


def unmask_pieces_in_place(
    pieces: list[bytearray], start: int, end: int, key: bytes
) -> None:
    """XOR, in place, the bytes at offsets ``start`` to ``end`` of the
    payload that ``pieces`` hold one after the other, with the 4-byte
    ``key`` (its phase counted from offset 0 of the payload)."""
    begin = 0
    for piece in pieces:
        if begin >= end:
            break
        low = max(start - begin, 0)
        high = min(len(piece), end - begin)
        if low < high:
            turn = (begin + low) & 3
            mask_in_place(piece, low, high, key[turn:] + key[:turn])
        begin += len(piece)


mask: Callable[[bytes | bytearray | memoryview, bytes], bytes]
mask_in_place: Callable[[bytearray, int, int, bytes], None]
mask_slice: Callable[[bytearray, int, int, bytes], bytes]
mask_join: Callable[[list[bytearray], int, bytes, int], bytes]
mask, mask_in_place = mask_pure_python, mask_in_place_pure_python
mask_slice, mask_join = mask_slice_pure_python, mask_join_pure_python

#: True when the C kernel is in use, False for the pure-Python twin.
COMPILED = False

if not NO_EXTENSIONS:  # pragma: no branch
    try:
        from ._cmask import mask as _c_mask
        from ._cmask import mask_in_place as _c_mask_in_place
        from ._cmask import mask_join as _c_mask_join
        from ._cmask import mask_slice as _c_mask_slice
    except ImportError:  # pragma: no cover - not built (no C compiler)
        pass
    else:
        mask, mask_in_place, COMPILED = _c_mask, _c_mask_in_place, True
        mask_slice, mask_join = _c_mask_slice, _c_mask_join
