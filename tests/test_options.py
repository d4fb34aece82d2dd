"""ConnectionOptions: defaults, validation, the compression converter."""

from __future__ import annotations

import math

import pytest

from trio_ws import ConnectionOptions, DeflateOptions
from trio_ws._options import seconds


def test_defaults_are_the_documented_ones() -> None:
    options = ConnectionOptions()
    assert options.max_message_size == 1 << 20
    assert options.message_queue_size == 16
    assert (options.open_timeout, options.close_timeout) == (10.0, 10.0)
    assert (options.ping_interval, options.ping_timeout) == (20.0, 20.0)
    assert options.write_timeout is None  # keepalive drops non-readers
    assert options.compression == DeflateOptions()


@pytest.mark.parametrize(
    "bad",
    [
        {"max_message_size": 0},
        {"max_fragments": -1},
        {"message_queue_size": 0},
        {"receive_size": 0},
        {"open_timeout": 0},
        {"close_timeout": -1.0},
        {"ping_interval": math.nan},
        {"ping_timeout": 0.0},
        {"write_timeout": -5.0},
        {"compression": "gzip"},
    ],
)
def test_invalid_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        ConnectionOptions(**bad)  # type: ignore[arg-type]


def test_none_means_no_limit_where_allowed() -> None:
    options = ConnectionOptions(
        max_message_size=None,
        max_fragments=None,
        open_timeout=None,
        close_timeout=None,
        ping_interval=None,
        ping_timeout=None,
        compression=None,
    )
    assert options.compression is None
    assert seconds(options.close_timeout) == math.inf
    assert seconds(2.5) == 2.5


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        ConnectionOptions(max_size=5)  # type: ignore[call-arg]
