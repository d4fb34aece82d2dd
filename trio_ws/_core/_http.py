"""HTTP/1.1 heads, sans-I/O: bounded reading, parsing and building.

The generic half of the opening handshake (RFC 7230 as the WebSocket
handshake needs it): the limits, header helpers, the incremental
``HeadReader``, head parsing and serialization, and plain responses.
"""

from __future__ import annotations

import http
import re

from ._errors import InvalidHandshake

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_HEAD_SIZE",
    "MAX_REQUEST_LINE",
    "MAX_RESPONSE_BODY",
    "HeadReader",
    "Headers",
    "build_http_response",
    "get_header",
    "header_tokens",
    "parse_head",
    "encode_head",
    "split_list",
    "split_top_level",
    "header_values",
]

# --- Limits (house rule: every bound is named and explained) -----------------

# Longest request line (or status line) in bytes, CRLF excluded. RFC 7230 3.1.1
# recommends supporting at least 8000 octets; longer lines get 414 URI Too Long.
MAX_REQUEST_LINE = 8192
# Longest single header line in bytes, CRLF excluded; longer ones get 431
# Request Header Fields Too Large (RFC 6585 5). Cookies make 8 KiB realistic.
MAX_HEADER_LINE = 8192
# Most header lines in one head; more get 431. Browsers send ~10-20 on an
# upgrade, so 128 leaves room for proxies while bounding the work per request.
MAX_HEADERS = 128
# Largest whole head in bytes (request/status line, header lines and the final
# blank line); larger heads get 431. This bounds the memory of a HeadReader.
MAX_HEAD_SIZE = 65536
# How many bytes of a rejection (non-101) response body the client keeps for
# ConnectionRejected.body; the rest is not read.
MAX_RESPONSE_BODY = 65536

# RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key before hashing.

Headers = tuple[tuple[str, str], ...]
"""Header fields as ``(name, value)`` pairs, in wire order, names as sent."""

# RFC 7230 3.2.6: token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7230 3.2: field-value is VCHAR / obs-text / SP / HTAB; anything else
# below 0x20 (including CR and LF) and DEL is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 7230 2.6: HTTP-version = "HTTP/" DIGIT "." DIGIT.
_HTTP_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
# RFC 7230 3.1.1: request-target is visible ASCII (no spaces, no controls).
_TARGET = re.compile(r"[\x21-\x7e]+")
# RFC 7230 3.3.2: Content-Length = 1*DIGIT (capped: 19 digits fit an int64).
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")

# --- Header helpers -------------------------------------------------------------


def get_header(headers: Headers, name: str) -> str | None:
    """Return the value of header ``name`` (case-insensitive), None if absent.

    A header sent several times gives its values joined with ``", "``.
    """
    # RFC 7230 3.2.2: repeated list headers are equivalent to one joined value.
    name = name.lower()
    values = [value for key, value in headers if key.lower() == name]
    return ", ".join(values) if values else None


def header_tokens(headers: Headers, name: str) -> list[str]:
    """Return the items of a comma-separated list header, lower-cased.

    Whitespace is stripped and empty items dropped: ``Connection: keep-alive,
    Upgrade`` gives ``["keep-alive", "upgrade"]``; an absent header gives [].
    """
    return [item.lower() for item in split_list(get_header(headers, name))]


def split_list(value: str | None) -> list[str]:
    # RFC 7230 7: #rule lists; empty elements are allowed and ignored.
    if value is None:
        return []
    return [item for item in (part.strip(" \t") for part in value.split(",")) if item]


def split_top_level(value: str | None) -> list[str]:
    # Like split_list, but commas inside quoted-strings (RFC 7230 3.2.6) do not
    # split: extension parameters may be quoted (RFC 6455 9.1).
    if value is None:
        return []
    items: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(value[start:index])
            start = index + 1
    items.append(value[start:])
    return [item for item in (item.strip(" \t") for item in items) if item]


# --- Reading a head -------------------------------------------------------------


class HeadReader:
    """Incremental, bounded accumulator for one HTTP head.

    Feed bytes as they arrive until :meth:`feed` returns True; then
    :attr:`head` holds the head and :attr:`trailing` whatever came after it
    (e.g. frames a server sent right after its 101). Lines must end with
    CRLF: a bare LF is refused (400) as soon as it arrives.
    """

    # RFC 7230 3.5 allows lenient LF-only parsing; we stay strict on purpose.

    def __init__(self) -> None:
        self._buffer = bytearray()
        # Where the next search for a LF starts (bytes before it are checked).
        self._lf_from = 0
        self._first_line_done = False
        self._head: bytes | None = None
        self._trailing = b""

    @property
    def complete(self) -> bool:
        """True once the whole head has arrived."""
        return self._head is not None

    @property
    def head(self) -> bytes:
        """The head **without** its final CRLF CRLF (RuntimeError if not
        complete yet)."""
        if self._head is None:
            raise RuntimeError("the head is not complete yet")
        return self._head

    @property
    def trailing(self) -> bytes:
        """The bytes received after the head (empty until it is complete)."""
        return self._trailing

    def feed(self, data: bytes | bytearray) -> bool:
        """Add received bytes; return True once the head is complete.

        Raises:
            InvalidHandshake: 414 when the first line exceeds
                :data:`MAX_REQUEST_LINE`, 431 when the head (with its final
                CRLF CRLF) exceeds :data:`MAX_HEAD_SIZE`, 400 on a bare LF.
            RuntimeError: when called again after the head was complete.
        """
        if self._head is not None:
            raise RuntimeError("feed() called after the head was complete")
        buffer = self._buffer
        # The terminator may straddle the previous chunk: look back 3 bytes.
        search_from = max(0, len(buffer) - 3)
        buffer += data
        end = buffer.find(b"\r\n\r\n", search_from)
        head_end = len(buffer) if end == -1 else end + 4
        self._check_lines(head_end)
        # Incomplete at MAX_HEAD_SIZE bytes means the head will end past it.
        if head_end > MAX_HEAD_SIZE or (end == -1 and head_end == MAX_HEAD_SIZE):
            raise InvalidHandshake("HTTP head too large", 431)
        if end == -1:
            return False
        self._head = bytes(buffer[:end])
        self._trailing = bytes(buffer[head_end:])
        self._buffer = bytearray()
        return True

    def _check_lines(self, head_end: int) -> None:
        # Checks every LF in [_lf_from, head_end): each must follow a CR, and
        # the first one ends the request line (RFC 7230 3.1.1, 3.5).
        buffer = self._buffer
        position = self._lf_from
        if not self._first_line_done:
            lf = buffer.find(b"\n", position, head_end)
            if lf != -1:
                if lf == 0 or buffer[lf - 1] != 0x0D:
                    raise InvalidHandshake("bare LF in HTTP head (CRLF required)", 400)
                self._first_line_done = True
                if lf - 1 > MAX_REQUEST_LINE:
                    raise InvalidHandshake("request line too long", 414)
                position = lf + 1
        if self._first_line_done:
            # Every other LF follows a CR: counted, not looped over line by
            # line (a CRLF may straddle ``position``: its CR is one before).
            crlf_from = position - 1 if position else 0
            if buffer.count(b"\n", position, head_end) != buffer.count(
                b"\r\n", crlf_from, head_end
            ):
                raise InvalidHandshake("bare LF in HTTP head (CRLF required)", 400)
        self._lf_from = head_end
        if not self._first_line_done:
            # Lower bound of the first line's length (a final CR may be the
            # start of its CRLF).
            length = head_end - (1 if buffer.endswith(b"\r") else 0)
            if length > MAX_REQUEST_LINE:
                raise InvalidHandshake("request line too long", 414)


def parse_head(head: bytes) -> tuple[str, Headers]:
    # Splits a head into its first line and validated header fields, applying
    # the named limits. Accepts the head with or without its final CRLF(s).
    if len(head) > MAX_HEAD_SIZE:
        raise InvalidHandshake("HTTP head too large", 431)
    if head.endswith(b"\r\n\r\n"):
        head = head[:-4]
    elif head.endswith(b"\r\n"):
        head = head[:-2]
    # RFC 7230 3.2.4: header octets are ISO-8859-1 (never fails to decode).
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    if len(first) > MAX_REQUEST_LINE:
        raise InvalidHandshake("request line too long", 414)
    if _CONTROL.search(first):
        raise InvalidHandshake("control character in the first line", 400)
    if len(lines) - 1 > MAX_HEADERS:
        raise InvalidHandshake(f"more than {MAX_HEADERS} header fields", 431)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(line) > MAX_HEADER_LINE:
            raise InvalidHandshake("header line too long", 431)
        if line[:1] in (" ", "\t"):
            # RFC 7230 3.2.4: a server MUST reject obs-fold with 400.
            raise InvalidHandshake("obsolete line folding in header", 400)
        name, colon, value = line.partition(":")
        # RFC 7230 3.2.4: no whitespace is allowed between name and colon.
        if not colon or not _TOKEN.fullmatch(name):
            raise InvalidHandshake(f"malformed header line {line[:64]!r}", 400)
        value = value.strip(" \t")
        if _CONTROL.search(value):
            raise InvalidHandshake(f"control character in header {name!r}", 400)
        headers.append((name, value))
    return first, tuple(headers)


def header_values(headers: Headers, lower_name: str) -> list[str]:
    return [value for name, value in headers if name.lower() == lower_name]


def encode_head(first_line: str, headers: Headers) -> bytes:
    # Serializes a head, refusing anything that could split it: header names
    # must be tokens and values must not hold CR, LF or other controls
    # (RFC 7230 3.2), so user-supplied headers cannot inject lines.
    if _CONTROL.search(first_line):
        raise ValueError(f"control character in {first_line!r}")
    lines = [first_line]
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if _CONTROL.search(value):
            raise ValueError(f"invalid value for header {name!r}: {value!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("header values must be ISO-8859-1 text") from None


def build_http_response(
    status_code: int, headers: Headers = (), body: bytes = b""
) -> bytes:
    """Return a whole plain HTTP/1.1 response (a rejection, a hook's answer).

    The reason phrase is the standard one (empty for unknown codes).
    ``Content-Length`` and ``Connection: close`` are added unless given, and
    ``Content-Type: text/plain; charset=utf-8`` for a body without one.

    Raises:
        ValueError: a status outside 100-599; a body with a 1xx, 204 or 304
            status; a ``Content-Length`` that does not match the body; a
            header name that is not a token or a value holding CR, LF or
            another control character (no response splitting).
    """
    if not 100 <= status_code <= 599:
        raise ValueError(f"invalid HTTP status code {status_code}")
    try:
        reason = http.HTTPStatus(status_code).phrase
    except ValueError:
        reason = ""  # RFC 7230 3.1.2: the reason-phrase may be empty
    # RFC 7230 3.3.2-3.3.3: these statuses never carry a body or a length.
    no_body = status_code < 200 or status_code in (204, 304)
    if no_body and body:
        raise ValueError(f"a {status_code} response cannot have a body")
    all_headers = list(headers)
    length = get_header(headers, "Content-Length")
    if length is not None and length != str(len(body)):
        raise ValueError("Content-Length does not match the body")
    if length is None and not no_body:
        all_headers.append(("Content-Length", str(len(body))))
    if body and get_header(headers, "Content-Type") is None:
        all_headers.append(("Content-Type", "text/plain; charset=utf-8"))
    if get_header(headers, "Connection") is None:
        all_headers.append(("Connection", "close"))
    head = encode_head(f"HTTP/1.1 {status_code} {reason}", tuple(all_headers))
    return head + body
