"""The body of a rejection, sans-I/O (trio_ws/_core/_body.py)."""

from __future__ import annotations

import pytest

from trio_ws._core._body import MAX_CHUNK_LINE, ResponseBody
from trio_ws._core._handshake import parse_response


def response(status: int, *headers: str) -> ResponseBody:
    head = f"HTTP/1.1 {status} X\r\n" + "".join(h + "\r\n" for h in headers)
    return ResponseBody(parse_response(head.encode()), limit=100)


def feed(body: ResponseBody, data: bytes, *, bytewise: bool) -> None:
    pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for piece in pieces:
        body.feed(piece)


@pytest.mark.parametrize("status", [100, 101, 199, 204, 304])
def test_statuses_without_a_body_are_done_at_once(status: int) -> None:
    body = response(status, "Content-Length: 5")
    assert body.done and body.data == b""


@pytest.mark.parametrize("bytewise", [False, True])
def test_content_length(bytewise: bool) -> None:
    body = response(403, "Content-Length: 5")
    feed(body, b"hel", bytewise=bytewise)
    assert not body.done
    feed(body, b"lo and more", bytewise=bytewise)
    assert body.done and body.data == b"hello"


def test_no_length_reads_until_eof_within_the_limit() -> None:
    body = response(500)
    body.feed(b"x" * 60)
    assert not body.done
    body.feed(b"y" * 60)
    assert body.done and body.data == b"x" * 60 + b"y" * 40
    other = response(500)
    other.feed(b"partial")
    other.eof()
    assert other.done and other.data == b"partial"


@pytest.mark.parametrize("bytewise", [False, True])
def test_chunked_is_decoded(bytewise: bool) -> None:
    body = response(401, "Transfer-Encoding: chunked")
    wire = b"5;ext=1\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-T: 1\r\n\r\n"
    feed(body, wire[:-1], bytewise=bytewise)
    assert not body.done
    feed(body, wire[-1:], bytewise=bytewise)
    assert body.done
    assert body.data == b"hello" + b"z" * 26


def test_chunked_is_bounded_by_the_limit() -> None:
    body = response(401, "Transfer-Encoding: gzip, chunked")
    body.feed(b"C8\r\n" + b"a" * 200 + b"\r\n0\r\n\r\n")
    assert body.done and body.data == b"a" * 100


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\nhello\r\n",  # not a hex size
        b"5\r\nhelloXX\r\n0\r\n\r\n",  # no CRLF after the data
        b"1" * (MAX_CHUNK_LINE + 1),  # a size line without end
    ],
)
def test_malformed_chunked_ends_the_body_with_what_was_decoded(wire: bytes) -> None:
    body = response(400, "Transfer-Encoding: chunked")
    body.feed(b"2\r\nok\r\n" + wire)
    assert body.done
    assert body.data.startswith(b"ok")
    assert len(body.data) <= len(b"okhello")
