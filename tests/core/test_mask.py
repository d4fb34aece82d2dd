"""The masking kernels: the C one (when built) and its pure-Python twin.

Both are checked against a one-byte-at-a-time reference and against each
other; ``mask``/``mask_in_place`` are whichever the build uses.
"""

import os
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws._core import _mask
from trio_ws._core._extensions import NO_EXTENSIONS
from trio_ws._core._mask import (
    mask,
    mask_in_place,
    mask_in_place_pure_python,
    mask_join,
    mask_join_pure_python,
    mask_pure_python,
    mask_slice,
    mask_slice_pure_python,
)

MaskFunction = Callable[[bytes | bytearray | memoryview, bytes], bytes]
InPlaceFunction = Callable[[bytearray, int, int, bytes], None]
SliceFunction = Callable[[bytearray, int, int, bytes], bytes]
JoinFunction = Callable[[list[bytearray], int, bytes, int], bytes]

try:
    from trio_ws._core import _cmask
except ImportError:  # not built (no C compiler)
    _cmask = None  # type: ignore[assignment]

needs_kernel = pytest.mark.skipif(_cmask is None, reason="the C kernel is not built")

MASKS: list[object] = [
    pytest.param(mask_pure_python, id="pure-python"),
    pytest.param(getattr(_cmask, "mask", None), id="c", marks=needs_kernel),
]
IN_PLACE: list[object] = [
    pytest.param(mask_in_place_pure_python, id="pure-python"),
    pytest.param(getattr(_cmask, "mask_in_place", None), id="c", marks=needs_kernel),
]
SLICES: list[object] = [
    pytest.param(mask_slice_pure_python, id="pure-python"),
    pytest.param(getattr(_cmask, "mask_slice", None), id="c", marks=needs_kernel),
]
JOINS: list[object] = [
    pytest.param(mask_join_pure_python, id="pure-python"),
    pytest.param(getattr(_cmask, "mask_join", None), id="c", marks=needs_kernel),
]


def reference_mask(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_the_kernel_in_use_follows_the_build_and_the_switch() -> None:
    if NO_EXTENSIONS or _cmask is None:
        assert (mask, mask_in_place) == (mask_pure_python, mask_in_place_pure_python)
        assert (mask_slice, mask_join) == (
            mask_slice_pure_python,
            mask_join_pure_python,
        )
        assert not _mask.COMPILED
    else:
        assert (mask, mask_in_place) == (_cmask.mask, _cmask.mask_in_place)
        assert (mask_slice, mask_join) == (_cmask.mask_slice, _cmask.mask_join)
        assert _mask.COMPILED


@pytest.mark.parametrize("function", MASKS)
@pytest.mark.parametrize(
    "size", [0, 1, 3, 4, 5, 7, 8, 9, 125, 511, 512, 513, 1023, 1024, 4097, 70000]
)
def test_mask_matches_reference_at_every_boundary(
    function: MaskFunction, size: int
) -> None:
    data = os.urandom(size)
    key = os.urandom(4)
    assert function(data, key) == reference_mask(data, key)
    assert function(bytearray(data), key) == reference_mask(data, key)
    assert function(memoryview(data), key) == reference_mask(data, key)


@given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4))
def test_mask_is_its_own_inverse_and_the_twins_agree(data: bytes, key: bytes) -> None:
    masked = mask(data, key)
    assert len(masked) == len(data)
    assert mask(masked, key) == data
    assert masked == reference_mask(data, key)
    assert mask_pure_python(data, key) == masked
    if _cmask is not None:
        assert _cmask.mask(data, key) == masked


@given(
    st.binary(max_size=300),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_in_place_twins_agree_on_any_region(
    data: bytes, key: bytes, a: int, b: int
) -> None:
    start, end = sorted((min(a, len(data)), min(b, len(data))))
    pure = bytearray(data)
    mask_in_place_pure_python(pure, start, end, key)
    assert pure == data[:start] + reference_mask(data[start:end], key) + data[end:]
    if _cmask is not None:
        compiled = bytearray(data)
        _cmask.mask_in_place(compiled, start, end, key)
        assert compiled == pure


@pytest.mark.parametrize("function", MASKS)
def test_rfc_example_key(function: MaskFunction) -> None:
    # RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
    assert function(b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("function", IN_PLACE)
@pytest.mark.parametrize("size", [0, 1, 5, 1023, 1024, 1027, 70001])
def test_mask_in_place_changes_only_its_region(
    function: InPlaceFunction, size: int
) -> None:
    data = os.urandom(size)
    key = os.urandom(4)
    # Every alignment: a payload follows a frame header of 2 to 14 bytes.
    for offset in range(9):
        head = bytes(range(offset))
        buf = bytearray(head) + data + bytearray(b"tail")
        function(buf, offset, offset + size, key)
        assert buf[:offset] == head
        assert buf[offset + size :] == b"tail"
        assert bytes(buf[offset : offset + size]) == reference_mask(data, key)
        del buf[: offset + size]  # the buffer is not left exported
        assert buf == b"tail"


@pytest.mark.parametrize("function", SLICES)
@pytest.mark.parametrize("size", [0, 1, 5, 1023, 1024, 1027, 70001])
def test_mask_slice_returns_its_region_unmasked(
    function: SliceFunction, size: int
) -> None:
    data = os.urandom(size)
    key = os.urandom(4)
    for offset in range(9):  # every alignment, as above
        buf = bytearray(bytes(range(offset))) + data + bytearray(b"tail")
        result = function(buf, offset, offset + size, key)
        assert type(result) is bytes
        assert result == reference_mask(data, key)
        assert buf[:offset] == bytes(range(offset))
        assert buf[offset + size :] == b"tail"
        del buf[: offset + size]  # the buffer is not left exported
        assert buf == b"tail"


@given(
    st.binary(max_size=300),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_slice_twins_agree_on_any_region(
    data: bytes, key: bytes, a: int, b: int
) -> None:
    start, end = sorted((min(a, len(data)), min(b, len(data))))
    expected = reference_mask(data[start:end], key)
    assert mask_slice_pure_python(bytearray(data), start, end, key) == expected
    if _cmask is not None:
        assert _cmask.mask_slice(bytearray(data), start, end, key) == expected


def reference_join(pieces: list[bytes], length: int, key: bytes, start: int) -> bytes:
    joined = b"".join(pieces)[:length]
    return joined[:start] + reference_mask(joined, key)[start:]


def join_with(
    function: JoinFunction, pieces: list[bytes], length: int, key: bytes, start: int
) -> bytes:
    # (On copies: the pure twin may unmask its pieces in place.)
    copies = [bytearray(piece) for piece in pieces]
    result = function(copies, length, key, start)
    assert type(result) is bytes
    for copy in copies:  # no piece is left exported
        copy.append(0)
    return result


@pytest.mark.parametrize("function", JOINS)
@pytest.mark.parametrize(
    ("sizes", "length", "start"),
    [
        ([], 0, 0),  # nothing at all
        ([0], 0, 0),
        ([5], 0, 0),  # a piece, none of it wanted
        ([7], 7, 0),  # one piece, all masked
        ([7], 5, 0),  # one piece, its end unused
        ([3, 5, 6], 14, 0),  # pieces not multiples of 4: the phase carries
        ([3, 5, 6], 12, 0),  # ... and the last piece partly used
        ([3, 5, 6], 12, 2),  # already unmasked up to inside the first piece
        ([3, 5, 6], 12, 3),  # ... up to a piece boundary
        ([3, 5, 6], 12, 9),  # ... up to inside the last piece
        ([3, 5, 6], 12, 12),  # ... all of it: a plain join
        ([3, 5, 6], 12, 40),  # start past the end: a plain join
        ([16384, 16384, 32768, 65536], 100001, 0),  # the parser's piece sizes
        ([16384, 16384, 32768, 65536], 100001, 20001),
        ([1, 0, 1, 1, 1, 9], 12, 1),  # an empty piece in the middle
        ([4, 4], 8, 0),
        ([8, 8], 5, 0),  # pieces past the length are ignored
    ],
)
def test_mask_join_edges(
    function: JoinFunction, sizes: list[int], length: int, start: int
) -> None:
    pieces = [os.urandom(size) for size in sizes]
    key = os.urandom(4)
    expected = reference_join(pieces, length, key, start)
    assert join_with(function, pieces, length, key, start) == expected


@given(
    st.lists(st.binary(max_size=40), max_size=6),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_join_twins_agree(
    pieces: list[bytes], key: bytes, length: int, start: int
) -> None:
    length = min(length, sum(len(piece) for piece in pieces))
    expected = reference_join(pieces, length, key, start)
    assert join_with(mask_join_pure_python, pieces, length, key, start) == expected
    if _cmask is not None:
        assert join_with(_cmask.mask_join, pieces, length, key, start) == expected


@pytest.mark.parametrize("function", JOINS)
def test_mask_join_needs_enough_bytes(function: JoinFunction) -> None:
    with pytest.raises(ValueError, match="fewer than length"):
        function([bytearray(3), bytearray(4)], 8, b"abcd", 0)


@needs_kernel
def test_kernel_rejects_bad_arguments() -> None:
    assert _cmask is not None
    with pytest.raises(ValueError, match="4 bytes"):
        _cmask.mask(b"data", b"abc")
    with pytest.raises(ValueError, match="within buf"):
        _cmask.mask_in_place(bytearray(4), 2, 5, b"abcd")
    with pytest.raises(ValueError, match="within buf"):
        _cmask.mask_in_place(bytearray(4), 3, 2, b"abcd")
    with pytest.raises(BufferError):
        _cmask.mask_in_place(b"read-only", 0, 1, b"abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _cmask.mask(b"data")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="within buf"):
        _cmask.mask_slice(bytearray(4), 3, 2, b"abcd")
    with pytest.raises(ValueError, match="within buf"):
        _cmask.mask_slice(bytearray(4), -1, 2, b"abcd")
    with pytest.raises(ValueError, match="4 bytes"):
        _cmask.mask_slice(bytearray(4), 0, 2, b"abcde")
    with pytest.raises(ValueError, match=">= 0"):
        _cmask.mask_join([bytearray(4)], -1, b"abcd", 0)
    with pytest.raises(ValueError, match="4 bytes"):
        _cmask.mask_join([bytearray(4)], 4, b"abc", 0)
    with pytest.raises(TypeError):
        _cmask.mask_join(None, 4, b"abcd", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _cmask.mask_join([None], 4, b"abcd", 0)  # type: ignore[list-item]
