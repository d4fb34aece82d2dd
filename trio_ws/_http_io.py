"""Reading an HTTP head (request or response) from a Trio stream.

The one loop the server's handshake, the client's handshake and the 503 of
admission control share: feed the sans-I/O :class:`HeadReader` (which
bounds the head's size and line count) until the blank line.
"""

from __future__ import annotations

import trio

from ._core._handshake import HeadReader

__all__ = ["read_head"]


async def read_head(stream: trio.abc.Stream, receive_size: int) -> HeadReader | None:
    """Read until the end of an HTTP head; None if the stream ended first.

    Returns:
        The reader: ``.head`` is the head, ``.trailing`` what came after it.

    Raises:
        InvalidHandshake: the head is malformed or over the reader's limits.
    """
    reader = HeadReader()
    while True:
        data = await stream.receive_some(receive_size)
        if not data:
            return None
        if reader.feed(data):
            return reader
