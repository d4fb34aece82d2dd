"""The WebSocket opening handshake, sans-I/O (RFC 6455 section 4).

Server: ``HeadReader`` -> ``parse_request`` -> ``validate_request`` ->
``build_accept_response`` (or ``build_http_response`` with the status of the
``InvalidHandshake`` raised). Client: ``build_request`` -> ``HeadReader`` ->
``parse_response`` -> (status 101) ``validate_response``, otherwise read the
body (``response_body_length``) and raise ``ConnectionRejected``. In both
cases ``HeadReader.trailing`` holds bytes that already belong to the WebSocket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http
import os
import re
from collections.abc import Sequence

import attrs

from .._exceptions import InvalidHandshake
from ._url import WebSocketURL, parse_url

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_HEAD_SIZE",
    "MAX_REQUEST_LINE",
    "MAX_RESPONSE_BODY",
    "WS_GUID",
    "AcceptedResponse",
    "ClientOffer",
    "HeadReader",
    "Headers",
    "Request",
    "Response",
    "WebSocketURL",
    "accept_key",
    "build_accept_response",
    "build_http_response",
    "build_request",
    "generate_key",
    "get_header",
    "header_tokens",
    "is_upgrade_request",
    "parse_request",
    "parse_response",
    "parse_url",
    "response_body_length",
    "validate_request",
    "validate_response",
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
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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

# Headers the handshake writes itself; extra_headers may not repeat them.
_BOTH_OWN = "upgrade connection sec-websocket-protocol sec-websocket-extensions"
_REQUEST_OWN_HEADERS = frozenset(
    f"{_BOTH_OWN} host sec-websocket-key sec-websocket-version".split()
)
_RESPONSE_OWN_HEADERS = frozenset(f"{_BOTH_OWN} sec-websocket-accept".split())

_UPGRADE_HEADERS: Headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))


# --- Keys ---------------------------------------------------------------------


def accept_key(key: str) -> str:
    """Return ``Sec-WebSocket-Accept`` for a key: base64(sha1(key + WS_GUID)).

    RFC 6455 1.3: ``"dGhlIHNhbXBsZSBub25jZQ=="`` gives
    ``"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="``.
    """
    digest = hashlib.sha1((key + WS_GUID).encode("ascii"), usedforsecurity=False)
    return base64.b64encode(digest.digest()).decode("ascii")


def generate_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``: base64 of 16 random bytes."""
    # RFC 6455 4.1: the nonce MUST be randomly selected for each connection.
    return base64.b64encode(os.urandom(16)).decode("ascii")


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
    return [item.lower() for item in _split_list(get_header(headers, name))]


def _split_list(value: str | None) -> list[str]:
    # RFC 7230 7: #rule lists; empty elements are allowed and ignored.
    if value is None:
        return []
    return [item for item in (part.strip(" \t") for part in value.split(",")) if item]


def _split_top_level(value: str | None) -> list[str]:
    # Like _split_list, but commas inside quoted-strings (RFC 7230 3.2.6) do not
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
        while (lf := buffer.find(b"\n", position, head_end)) != -1:
            if lf == 0 or buffer[lf - 1] != 0x0D:
                raise InvalidHandshake("bare LF in HTTP head (CRLF required)", 400)
            if not self._first_line_done:
                self._first_line_done = True
                if lf - 1 > MAX_REQUEST_LINE:
                    raise InvalidHandshake("request line too long", 414)
            position = lf + 1
        self._lf_from = head_end
        if not self._first_line_done:
            # Lower bound of the first line's length (a final CR may be the
            # start of its CRLF).
            length = head_end - (1 if buffer.endswith(b"\r") else 0)
            if length > MAX_REQUEST_LINE:
                raise InvalidHandshake("request line too long", 414)


def _parse_head(head: bytes) -> tuple[str, Headers]:
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


# --- Server side ----------------------------------------------------------------


@attrs.frozen
class Request:
    """A parsed HTTP request head.

    Attributes:
        method, http_version: e.g. ``"GET"``, ``"HTTP/1.1"``.
        target, path, query: e.g. ``"/chat?room=1"``, ``"/chat"``,
            ``"room=1"`` (query without ``"?"``, may be empty).
        headers: the header fields, in order, names as sent.
    """

    method: str
    target: str
    path: str
    query: str
    http_version: str
    headers: Headers

    def get(self, name: str) -> str | None:
        """Return a header value, case-insensitively (see :func:`get_header`)."""
        return get_header(self.headers, name)


def parse_request(head: bytes) -> Request:
    """Parse an HTTP/1.1 request head (as :attr:`HeadReader.head` gives it).

    Raises:
        InvalidHandshake: ``status_code`` 414 for a request line over
            :data:`MAX_REQUEST_LINE`; 431 for a header line over
            :data:`MAX_HEADER_LINE`, over :data:`MAX_HEADERS` headers or a
            head over :data:`MAX_HEAD_SIZE`; 505 for a version other than
            HTTP/1.1; 400 for anything malformed (request line, header names
            that are not tokens, control characters, line folding).
    """
    first, headers = _parse_head(head)
    parts = first.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise InvalidHandshake(f"malformed request line {first[:64]!r}", 400)
    method, target, version = parts
    if not _HTTP_VERSION.fullmatch(version):
        raise InvalidHandshake(f"malformed HTTP version {version[:16]!r}", 400)
    if version != "HTTP/1.1":
        # RFC 6455 4.1: the upgrade request is HTTP/1.1 or higher; HTTP/2+
        # do not use this mechanism (RFC 8441 is a different one).
        raise InvalidHandshake(f"unsupported HTTP version {version}", 505)
    if not _TARGET.fullmatch(target):
        raise InvalidHandshake("malformed request target", 400)
    path = target
    if not target.startswith("/"):
        # RFC 7230 5.3.2: servers MUST accept the absolute-form.
        scheme, sep, rest = target.partition("://")
        if not sep or scheme.lower() not in ("http", "https", "ws", "wss"):
            raise InvalidHandshake("malformed request target", 400)
        slash = rest.find("/")
        question = rest.find("?")
        cut = min(i for i in (slash, question, len(rest)) if i != -1)
        path = rest[cut:]
        if not path.startswith("/"):
            path = "/" + path
    path, _, query = path.partition("?")
    return Request(method, target, path, query, version, headers)


@attrs.frozen
class ClientOffer:
    """What a valid upgrade request asks for.

    Attributes:
        key: the ``Sec-WebSocket-Key``.
        subprotocols: offered subprotocols, client's preference first.
        extensions: ``Sec-WebSocket-Extensions`` items, parameters included
            (e.g. ``"permessage-deflate; client_max_window_bits"``).
        origin: the ``Origin`` header, or None.
    """

    key: str
    subprotocols: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    origin: str | None = None


def is_upgrade_request(request: Request) -> bool:
    """Return True if the ``Upgrade`` header lists ``websocket``.

    A server can route other requests to a plain-HTTP hook.
    """
    return "websocket" in header_tokens(request.headers, "Upgrade")


def validate_request(request: Request) -> ClientOffer:
    """Check an upgrade request; return the offer to answer.

    Raises:
        InvalidHandshake: its ``status_code`` and ``headers`` are the response
            to send. In order: 405 (``Allow: GET``) for a method other than
            GET; 426 (``Upgrade: websocket``, ``Connection: Upgrade``) without
            those tokens; 400 for a missing, empty or repeated ``Host``; 400
            for a missing, repeated or bad ``Sec-WebSocket-Key`` (base64 of
            16 bytes); 426 (``Sec-WebSocket-Version: 13``) for a missing or
            other version.
    """
    # RFC 6455 4.2.1 item 1: the method MUST be GET.
    if request.method != "GET":
        raise InvalidHandshake(
            f"method {request.method} not allowed", 405, (("Allow", "GET"),)
        )
    # RFC 6455 4.2.1 items 3-4 (426: RFC 7231 6.5.15 tells the client which
    # protocol to upgrade to).
    if not is_upgrade_request(request):
        raise InvalidHandshake("missing Upgrade: websocket", 426, _UPGRADE_HEADERS)
    if "upgrade" not in header_tokens(request.headers, "Connection"):
        raise InvalidHandshake("missing Connection: Upgrade", 426, _UPGRADE_HEADERS)
    # RFC 6455 4.2.1 item 2; RFC 7230 5.4: 400 for a missing or repeated Host.
    hosts = _values(request.headers, "host")
    if len(hosts) != 1 or not hosts[0]:
        raise InvalidHandshake("missing or repeated Host header", 400)
    # RFC 6455 4.2.1 item 5: base64 of a 16-byte value; exactly one header.
    keys = _values(request.headers, "sec-websocket-key")
    if len(keys) != 1:
        raise InvalidHandshake("missing or repeated Sec-WebSocket-Key", 400)
    key = keys[0]
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidHandshake("Sec-WebSocket-Key is not base64", 400) from None
    if len(raw) != 16:
        raise InvalidHandshake("Sec-WebSocket-Key is not 16 bytes", 400)
    # RFC 6455 4.2.1 item 6 and 4.4: answer a version mismatch with the
    # versions we support. A missing header also gets 426 (same remedy).
    if request.get("Sec-WebSocket-Version") != "13":
        raise InvalidHandshake(
            "unsupported Sec-WebSocket-Version", 426, (("Sec-WebSocket-Version", "13"),)
        )
    return ClientOffer(
        key=key,
        subprotocols=tuple(_split_list(request.get("Sec-WebSocket-Protocol"))),
        extensions=tuple(_split_top_level(request.get("Sec-WebSocket-Extensions"))),
        origin=request.get("Origin"),
    )


def _values(headers: Headers, lower_name: str) -> list[str]:
    return [value for name, value in headers if name.lower() == lower_name]


def _encode_head(first_line: str, headers: Headers) -> bytes:
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


def _check_extra(extra_headers: Headers, own: frozenset[str]) -> None:
    for name, _ in extra_headers:
        if name.lower() in own:
            raise ValueError(f"extra_headers may not set {name!r}")


def build_accept_response(
    offer: ClientOffer,
    *,
    subprotocol: str | None = None,
    extensions: str | None = None,
    extra_headers: Headers = (),
) -> bytes:
    """Return the ``101 Switching Protocols`` response head (RFC 6455 4.2.2).

    Args:
        subprotocol: the one chosen from ``offer.subprotocols``, if any.
        extensions: the accepted ``Sec-WebSocket-Extensions`` value, if any.
        extra_headers: more headers (e.g. ``Set-Cookie``).

    Raises:
        ValueError: ``subprotocol`` was not offered; ``extra_headers`` sets
            Upgrade, Connection or Sec-WebSocket-*; a header name is not a
            token or a value holds CR, LF or another control character.
    """
    if subprotocol is not None and subprotocol not in offer.subprotocols:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
    _check_extra(extra_headers, _RESPONSE_OWN_HEADERS)
    headers = [*_UPGRADE_HEADERS, ("Sec-WebSocket-Accept", accept_key(offer.key))]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    headers.extend(extra_headers)
    return _encode_head("HTTP/1.1 101 Switching Protocols", tuple(headers))


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
    head = _encode_head(f"HTTP/1.1 {status_code} {reason}", tuple(all_headers))
    return head + body


# --- Client side ----------------------------------------------------------------


def build_request(
    url: WebSocketURL,
    key: str,
    *,
    subprotocols: Sequence[str] = (),
    extensions: Sequence[str] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
) -> bytes:
    """Return the client's upgrade request head (RFC 6455 4.1).

    Args:
        key: from :func:`generate_key`.
        subprotocols: to offer, most preferred first.
        extensions: ``Sec-WebSocket-Extensions`` items to offer.
        extra_headers: more headers (e.g. ``Authorization``, ``Cookie``).
        origin: the ``Origin`` to send (or pass it in ``extra_headers``).

    Raises:
        ValueError: a subprotocol is not a token; ``extra_headers`` sets Host,
            Upgrade, Connection, Sec-WebSocket-* (or Origin as well as
            ``origin``); a header name is not a token or a value holds CR,
            LF or another control character.
    """
    for subprotocol in subprotocols:
        # RFC 6455 4.1: each subprotocol MUST be a token.
        if not _TOKEN.fullmatch(subprotocol):
            raise ValueError(f"invalid subprotocol {subprotocol!r}")
    own = _REQUEST_OWN_HEADERS
    if origin is not None:
        own = own | {"origin"}
    _check_extra(extra_headers, own)
    headers = [
        ("Host", url.host_header),
        *_UPGRADE_HEADERS,
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if origin is not None:
        headers.append(("Origin", origin))
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", ", ".join(extensions)))
    headers.extend(extra_headers)
    return _encode_head(f"GET {url.resource} HTTP/1.1", tuple(headers))


@attrs.frozen
class Response:
    """A parsed HTTP response head: ``status_code`` (e.g. 101), ``reason``,
    ``http_version`` (``"HTTP/1.1"`` or ``"HTTP/1.0"``) and ``headers``."""

    status_code: int
    reason: str
    http_version: str
    headers: Headers

    def get(self, name: str) -> str | None:
        """Return a header value, case-insensitively (see :func:`get_header`)."""
        return get_header(self.headers, name)


def parse_response(head: bytes) -> Response:
    """Parse an HTTP/1.x response head, whatever its status code.

    HTTP/1.0 is accepted so that an old proxy's rejection can be reported;
    :func:`validate_response` requires HTTP/1.1.

    Raises:
        InvalidHandshake: a malformed status line or headers, or a limit
            exceeded (as for :func:`parse_request`).
    """
    first, headers = _parse_head(head)
    version, _, rest = first.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise InvalidHandshake(f"unsupported HTTP version {version[:16]!r}")
    # RFC 7230 3.1.2: status-code = 3DIGIT.
    if len(code) != 3 or not code.isascii() or not code.isdigit():
        raise InvalidHandshake(f"malformed status line {first[:64]!r}")
    return Response(int(code), reason, version, headers)


@attrs.frozen
class AcceptedResponse:
    """What the server's 101 accepted: ``subprotocol`` and the raw
    ``Sec-WebSocket-Extensions`` value (``extensions``), each or None."""

    subprotocol: str | None = None
    extensions: str | None = None


def validate_response(
    response: Response,
    *,
    key: str,
    subprotocols: Sequence[str],
    extensions: Sequence[str] = (),
) -> AcceptedResponse:
    """Check a 101 response against what the request sent and offered.

    Call it only for status 101; for another status read the body (see
    :func:`response_body_length`) and raise ``ConnectionRejected``.

    Raises:
        InvalidHandshake: a status other than 101 or a version other than
            HTTP/1.1; no ``Upgrade: websocket`` or ``Connection: upgrade``; a
            wrong ``Sec-WebSocket-Accept``; several subprotocols or one not
            offered; extensions when none were offered.
    """
    if response.status_code != 101:
        raise InvalidHandshake(f"expected status 101, got {response.status_code}")
    if response.http_version != "HTTP/1.1":
        raise InvalidHandshake(f"101 response with {response.http_version}")
    # RFC 6455 4.1, client checks 2-4.
    if "websocket" not in header_tokens(response.headers, "Upgrade"):
        raise InvalidHandshake("response lacks Upgrade: websocket")
    if "upgrade" not in header_tokens(response.headers, "Connection"):
        raise InvalidHandshake("response lacks Connection: Upgrade")
    if response.get("Sec-WebSocket-Accept") != accept_key(key):
        raise InvalidHandshake("wrong or missing Sec-WebSocket-Accept")
    # RFC 6455 4.1, client check 5: no extension that was not requested.
    chosen_extensions = response.get("Sec-WebSocket-Extensions")
    if chosen_extensions is not None and not extensions:
        raise InvalidHandshake("server chose extensions that were not offered")
    # RFC 6455 4.1, client check 6: at most one subprotocol, one we offered.
    chosen = _split_list(response.get("Sec-WebSocket-Protocol"))
    if len(chosen) > 1:
        raise InvalidHandshake("server chose more than one subprotocol")
    if chosen and chosen[0] not in subprotocols:
        raise InvalidHandshake(f"server chose unoffered subprotocol {chosen[0]!r}")
    return AcceptedResponse(
        subprotocol=chosen[0] if chosen else None, extensions=chosen_extensions
    )


def response_body_length(response: Response) -> int | None:
    """Return the ``Content-Length`` of a response, or None if absent or
    invalid (then read until the peer closes, keeping at most
    :data:`MAX_RESPONSE_BODY` bytes)."""
    value = response.get("Content-Length")
    if value is None or not _CONTENT_LENGTH.fullmatch(value):
        return None
    return int(value)
