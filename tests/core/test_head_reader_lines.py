"""HeadReader's bare-LF check counts LFs and CRLFs instead of looping over
the lines: it decides as the line-by-line rules do, across chunks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws._core._http import MAX_REQUEST_LINE, HeadReader
from trio_ws._exceptions import InvalidHandshake


def reader_outcome(chunks: list[bytes]) -> object:
    reader = HeadReader()
    try:
        for chunk in chunks:
            if reader.feed(chunk):
                return ("head", reader.head, reader.trailing)
    except InvalidHandshake as exc:
        return (exc.status_code, str(exc))
    return "incomplete"


def reader_outcome_by_lines(data: bytes) -> object:
    """What HeadReader must decide, by the rules, line by line."""
    end = data.find(b"\r\n\r\n")
    head_end = len(data) if end == -1 else end + 4
    first = True
    for index in range(head_end):
        if data[index] == 0x0A:
            if index == 0 or data[index - 1] != 0x0D:
                return (400, "bare LF in HTTP head (CRLF required)")
            if first:
                first = False
                if index - 1 > MAX_REQUEST_LINE:
                    return (414, "request line too long")
    if first and head_end - data[:head_end].endswith(b"\r") > MAX_REQUEST_LINE:
        return (414, "request line too long")
    if end == -1:
        return "incomplete"
    return ("head", data[:end], data[head_end:])


@given(
    st.binary(max_size=40).map(
        lambda b: bytes(b"\r\n:a "[x % 5] for x in b)  # mostly CR, LF
    ),
    st.lists(st.integers(min_value=0, max_value=40), max_size=4),
)
def test_head_reader_finds_bare_lfs_across_chunks_like_the_rules(
    data: bytes, cuts: list[int]
) -> None:
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [
        data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)
    ]
    chunks = [chunk for chunk in chunks if chunk] or [b""]
    if chunks == [b""]:
        return
    assert reader_outcome(chunks) == reader_outcome_by_lines(data)


@pytest.mark.parametrize(
    "chunks",
    [
        [b"GET / HTTP/1.1\r", b"\nHost: a\r\n\r\n"],  # CRLF across chunks
        [b"GET / HTTP/1.1\r\nHost: a\r", b"\n\r\n"],
        [b"GET / HTTP/1.1\r\nHost: a\n\r\n"],  # bare LF after the first line
        [b"GET / HTTP/1.1\r\nHost: a\r\n", b"\nX: b\r\n\r\n"],
    ],
)
def test_head_reader_chunk_boundaries(chunks: list[bytes]) -> None:
    assert reader_outcome(chunks) == reader_outcome_by_lines(b"".join(chunks))
