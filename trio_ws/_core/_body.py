"""The body of a rejection (a non-101 answer to the upgrade), sans-I/O.

A client that is turned away reads the answer's body for
``ConnectionRejected.body``, keeping at most a bounded number of bytes.
How long the body is follows RFC 9112 6.3: none for 1xx, 204 and 304;
``Transfer-Encoding: chunked`` decoded (7.1); else ``Content-Length``;
else until the server closes the connection.
"""

from __future__ import annotations

import re

from ._handshake import Response, header_tokens, response_body_length

__all__ = ["MAX_CHUNK_LINE", "ResponseBody"]

# Longest chunk-size line (with extensions) or trailer line we read; a
# longer one ends the body where it is (what was decoded so far is kept).
MAX_CHUNK_LINE = 4096

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class ResponseBody:
    """Collect a response body from the bytes after the head.

    Feed it what arrives (:meth:`feed`) until :attr:`done`, or call
    :meth:`eof` when the server closed the connection. :attr:`data` holds
    at most ``limit`` bytes of the decoded body.
    """

    __slots__ = (
        "_buffer",
        "_chunk_left",
        "_chunked",
        "_length",
        "_state",
        "data",
        "done",
        "limit",
    )

    def __init__(self, response: Response, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.done = False
        self._buffer = bytearray()
        self._chunked = False
        self._length: int | None = None
        self._chunk_left = 0
        self._state = "size"  # chunked: size, data, data-crlf, trailer
        status = response.status_code
        if status < 200 or status in (204, 304):
            self.done = True  # never a body
        elif "chunked" in header_tokens(response.headers, "Transfer-Encoding"):
            self._chunked = True
        else:
            self._length = response_body_length(response)
            if self._length == 0:
                self.done = True

    def feed(self, data: bytes | bytearray) -> None:
        """Take the next bytes of the body (ignored once :attr:`done`)."""
        if self.done:
            return
        if self._chunked:
            self._buffer += data
            self._decode()
        else:
            self._keep(data)
            if self._length is not None and len(self.data) >= min(
                self._length, self.limit
            ):
                self.done = True
        if len(self.data) >= self.limit:
            self.done = True

    def eof(self) -> None:
        """The server closed the connection: the body is what arrived."""
        self.done = True

    def _keep(self, data: bytes | bytearray) -> None:
        room = self.limit - len(self.data)
        if self._length is not None:
            room = min(room, self._length - len(self.data))
        if room > 0:
            self.data += data[:room]

    def _decode(self) -> None:
        buffer = self._buffer
        while not self.done:
            if self._state == "data":
                if not buffer:
                    return
                take = min(self._chunk_left, len(buffer))
                room = self.limit - len(self.data)
                self.data += buffer[: min(take, room)]
                del buffer[:take]
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._state = "data-crlf"
                continue
            line = self._line()
            if line is None:
                return
            if self._state == "data-crlf":
                if line:
                    self.done = True  # malformed: keep what we have
                self._state = "size"
            elif self._state == "size":
                size = _CHUNK_SIZE.match(line.split(b";", 1)[0].strip())
                if size is None:
                    self.done = True
                    return
                self._chunk_left = int(size.group(), 16)
                self._state = "data" if self._chunk_left else "trailer"
            elif not line:  # the blank line after the trailer fields
                self.done = True

    def _line(self) -> bytes | None:
        """The next CRLF-ended line out of the buffer, or None for now."""
        buffer = self._buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > MAX_CHUNK_LINE:
                self.done = True
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        if len(line) > MAX_CHUNK_LINE:
            self.done = True
            return None
        return line
