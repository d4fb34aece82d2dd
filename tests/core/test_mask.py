import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws._core import _mask
from trio_ws._core._mask import mask, mask_in_place, mask_pure_python


def reference_mask(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize(
    "size", [0, 1, 3, 4, 5, 125, 511, 512, 513, 1023, 1024, 4097, 70000]
)
def test_mask_matches_reference_at_every_strategy_boundary(size: int) -> None:
    data = os.urandom(size)
    key = os.urandom(4)
    expected = reference_mask(data, key)
    assert mask(data, key) == expected
    assert mask_pure_python(data, key) == expected


@given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4))
def test_mask_is_its_own_inverse(data: bytes, key: bytes) -> None:
    masked = mask(data, key)
    assert len(masked) == len(data)
    assert mask(masked, key) == data
    assert masked == reference_mask(data, key)


def test_rfc_example_key() -> None:
    # RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
    assert mask(b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex("7f9f4d5158")


def test_pure_python_path_used_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mask, "_np", None)
    data = os.urandom(5000)
    key = b"\x01\x02\x03\x04"
    assert mask(data, key) == reference_mask(data, key)


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "pure-python"])
@pytest.mark.parametrize("size", [0, 1, 5, 1023, 1024, 1027, 70001])
def test_mask_in_place_changes_only_its_region(
    monkeypatch: pytest.MonkeyPatch, numpy: bool, size: int
) -> None:
    if not numpy:
        monkeypatch.setattr(_mask, "_np", None)
    elif _mask._np is None:
        pytest.skip("NumPy is not installed")
    data = os.urandom(size)
    key = os.urandom(4)
    # Every alignment: a payload follows a frame header of 2 to 14 bytes.
    for offset in range(9):
        head = bytes(range(offset))
        buf = bytearray(head) + data + bytearray(b"tail")
        mask_in_place(buf, offset, offset + size, key)
        assert buf[:offset] == head
        assert buf[offset + size :] == b"tail"
        assert bytes(buf[offset : offset + size]) == reference_mask(data, key)
        del buf[: offset + size]  # the buffer is not left exported
        assert buf == b"tail"
