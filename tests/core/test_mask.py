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
    mask_pure_python,
)

MaskFunction = Callable[[bytes | bytearray | memoryview, bytes], bytes]
InPlaceFunction = Callable[[bytearray, int, int, bytes], None]

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


def reference_mask(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_the_kernel_in_use_follows_the_build_and_the_switch() -> None:
    if NO_EXTENSIONS or _cmask is None:
        assert (mask, mask_in_place) == (mask_pure_python, mask_in_place_pure_python)
        assert not _mask.COMPILED
    else:
        assert (mask, mask_in_place) == (_cmask.mask, _cmask.mask_in_place)
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
