"""The legacy draft-76 ("hixie-76") opening handshake, sans-I/O.

draft-hixie-thewebsocketprotocol-76 (identical to
draft-ietf-hybi-thewebsocketprotocol-00) is the protocol browsers spoke in
2010, before RFC 6455 replaced it. Its upgrade request carries two keys,
``Sec-WebSocket-Key1`` and ``Sec-WebSocket-Key2``, and is followed by 8 raw
bytes ("key3") that are not announced by any header. Each key hides a number:
its digits, read as one base-ten integer, divided by its count of spaces. The
server answers with a ``101 WebSocket Protocol Handshake`` head followed by
16 raw bytes, the MD5 of the two quotients (32-bit big-endian each) and key3.

Server flow: ``HeadReader`` -> ``parse_request`` -> :func:`is_hixie76_request`
-> :func:`validate_hixie76_request` (malformed keys fail here, before key3 is
awaited) -> :class:`Key3Reader` fed with ``HeadReader.trailing`` and then
more bytes -> :func:`build_hixie76_response`. The framing that follows lives
in :mod:`._hixie76_protocol`.

Only the server side exists: trio_ws never opens draft-76 connections.
"""

from __future__ import annotations

import hashlib
import struct

import attrs

from ._errors import InvalidHandshake
from ._handshake import Request
from ._http import Headers, encode_head, header_tokens, header_values

__all__ = [
    "KEY3_LENGTH",
    "MAX_KEY_LENGTH",
    "Hixie76Offer",
    "Key3Reader",
    "build_hixie76_response",
    "challenge_response",
    "is_hixie76_request",
    "key_number",
    "validate_hixie76_request",
]

# draft-76 4.1 and 5.1: the client sends exactly 8 random bytes after the
# blank line that ends its head.
KEY3_LENGTH = 8

# Longest Sec-WebSocket-Key1/Key2 value accepted, in characters. A client
# following draft-76 4.1 sends at most 10 digits, 12 spaces and 12 random
# non-digit characters: 34 in all. 128 leaves room for odd but
# harmless clients while bounding the work per key (and the size of the
# integer built from its digits, see key_number).
MAX_KEY_LENGTH = 128

# draft-76 5.2: key numbers above this abort the handshake; the quotients
# then fit in 32 bits too.
MAX_KEY_NUMBER = 0xFFFFFFFF

# A number at most MAX_KEY_NUMBER has at most this many significant digits.
_MAX_KEY_DIGITS = len(str(MAX_KEY_NUMBER))

_DIGITS = frozenset("0123456789")  # ASCII only: "²" is str.isdigit() too
_PARTS = struct.Struct("!II")

# The status line draft-76 5.2 prescribes (clients of that era compare the
# whole line, reason phrase included).
_STATUS_LINE = "HTTP/1.1 101 WebSocket Protocol Handshake"

_RFC6455_HEADERS = ("sec-websocket-key", "sec-websocket-version")


def is_hixie76_request(request: Request) -> bool:
    """Return True if an upgrade request looks like draft-76.

    That is: ``Sec-WebSocket-Key1`` or ``Sec-WebSocket-Key2`` present, and
    neither ``Sec-WebSocket-Key`` nor ``Sec-WebSocket-Version`` (which only
    RFC 6455 clients send). A request with only one of the two keys counts,
    so that :func:`validate_hixie76_request` can say which one is missing.
    """
    names = {name.lower() for name, _ in request.headers}
    if names.intersection(_RFC6455_HEADERS):
        return False
    return "sec-websocket-key1" in names or "sec-websocket-key2" in names


def key_number(key: str) -> int:
    """Return the 32-bit number hidden in a Sec-WebSocket-Key1/Key2 value.

    The digits of ``key`` (ASCII 0-9, everything else ignored), read as one
    base-ten number, divided by the number of spaces in ``key``.

    Raises:
        InvalidHandshake: (status 400) the key is longer than
            :data:`MAX_KEY_LENGTH`, has no digit or no space, its number
            exceeds 4,294,967,295, or is not a multiple of its spaces.
    """
    # draft-76 5.2 (the server's side of how 4.1 builds a key).
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidHandshake(
            f"draft-76 key longer than {MAX_KEY_LENGTH} characters", 400
        )
    digits = "".join(char for char in key if char in _DIGITS)
    if not digits:
        raise InvalidHandshake("draft-76 key has no digits", 400)
    spaces = key.count(" ")
    if spaces == 0:
        raise InvalidHandshake("draft-76 key has no spaces", 400)
    # Leading zeros do not change the number; past them, more than 10 digits
    # is over MAX_KEY_NUMBER whatever they are (no need to build the int).
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_KEY_DIGITS or int(significant) > MAX_KEY_NUMBER:
        raise InvalidHandshake("draft-76 key number does not fit in 32 bits", 400)
    number = int(significant)
    if number % spaces:
        raise InvalidHandshake(
            f"draft-76 key number is not a multiple of its {spaces} spaces", 400
        )
    return number // spaces


def challenge_response(part1: int, part2: int, key3: bytes) -> bytes:
    """Return the 16-byte answer: MD5 of part1, part2 (32-bit big-endian) + key3.

    draft-76 1.3: Key1 ``"4 @1  46546xW%0l 1 5"``, Key2
    ``"12998 5 Y3 1  .P00"`` and key3 ``b"^n:ds[4U"`` give
    ``b"8jKS'y:G*Co,Wxa-"``.

    Raises:
        InvalidHandshake: (status 400) ``key3`` is not exactly 8 bytes.
        ValueError: a part is outside 0..4,294,967,295.
    """
    if len(key3) != KEY3_LENGTH:
        raise InvalidHandshake(
            f"draft-76 key3 must be {KEY3_LENGTH} bytes, got {len(key3)}", 400
        )
    if not (0 <= part1 <= MAX_KEY_NUMBER and 0 <= part2 <= MAX_KEY_NUMBER):
        raise ValueError("draft-76 key parts must fit in 32 bits")
    # draft-76 5.2: MD5 is what the draft prescribes, not a choice of ours.
    challenge = _PARTS.pack(part1, part2) + bytes(key3)
    return hashlib.md5(challenge, usedforsecurity=False).digest()


@attrs.frozen
class Hixie76Offer:
    """What a valid draft-76 upgrade request asks for.

    Attributes:
        part1, part2: the numbers hidden in Key1 and Key2 (see
            :func:`key_number`).
        host: the ``Host`` header (for ``Sec-WebSocket-Location``).
        resource: the request target, e.g. ``"/chat?room=1"``.
        origin: the ``Origin`` header (echoed as ``Sec-WebSocket-Origin``).
        subprotocol: the ``Sec-WebSocket-Protocol`` value, or None. In
            draft-76 it is a single string, not a list.
    """

    part1: int
    part2: int
    host: str
    resource: str
    origin: str
    subprotocol: str | None = None


def _one_header(headers: Headers, name: str) -> str:
    values = header_values(headers, name.lower())
    if len(values) != 1:
        raise InvalidHandshake(f"missing or repeated {name} header", 400)
    return values[0]


def validate_hixie76_request(request: Request) -> Hixie76Offer:
    """Check a draft-76 upgrade request; return what to answer.

    Raises:
        InvalidHandshake: 405 for a method other than GET; 400 without
            ``Upgrade: WebSocket`` and ``Connection: Upgrade``, without exactly
            one ``Host``, ``Origin``, ``Sec-WebSocket-Key1`` and
            ``Sec-WebSocket-Key2``, or for a malformed key (see
            :func:`key_number`).
    """
    # draft-76 5.1: a GET whose head has the Upgrade and Connection fields.
    if request.method != "GET":
        raise InvalidHandshake(
            f"method {request.method} not allowed", 405, (("Allow", "GET"),)
        )
    headers = request.headers
    if "websocket" not in header_tokens(headers, "Upgrade"):
        raise InvalidHandshake("missing Upgrade: WebSocket", 400)
    if "upgrade" not in header_tokens(headers, "Connection"):
        raise InvalidHandshake("missing Connection: Upgrade", 400)
    host = _one_header(headers, "Host")
    if not host:
        raise InvalidHandshake("empty Host header", 400)
    # draft-76 4.1: every client sends its origin; the server echoes it in
    # Sec-WebSocket-Origin (5.2).
    origin = _one_header(headers, "Origin")
    part1 = key_number(_one_header(headers, "Sec-WebSocket-Key1"))
    part2 = key_number(_one_header(headers, "Sec-WebSocket-Key2"))
    protocols = header_values(headers, "sec-websocket-protocol")
    if len(protocols) > 1:
        raise InvalidHandshake("repeated Sec-WebSocket-Protocol header", 400)
    resource = request.path + (f"?{request.query}" if request.query else "")
    return Hixie76Offer(
        part1=part1,
        part2=part2,
        host=host,
        resource=resource,
        origin=origin,
        subprotocol=protocols[0] if protocols else None,
    )


class Key3Reader:
    """Collects the 8 bytes of key3 that follow a draft-76 request head.

    Feed it :attr:`HeadReader.trailing`, then received bytes, until
    :meth:`feed` returns True; :attr:`key3` then holds the 8 bytes and
    :attr:`trailing` whatever came after them (frames sent early). It never
    holds more than 8 bytes of its own.
    """

    def __init__(self) -> None:
        self._key3 = bytearray()
        self._trailing = b""

    @property
    def complete(self) -> bool:
        """True once all 8 bytes arrived."""
        return len(self._key3) == KEY3_LENGTH

    @property
    def key3(self) -> bytes:
        """The 8 bytes (RuntimeError before they all arrived)."""
        if not self.complete:
            raise RuntimeError("key3 is not complete yet")
        return bytes(self._key3)

    @property
    def trailing(self) -> bytes:
        """The bytes received after key3 (empty until it is complete)."""
        return self._trailing

    def feed(self, data: bytes | bytearray) -> bool:
        """Add received bytes; return True once key3 is complete.

        An empty ``data`` means the peer closed its side.

        Raises:
            InvalidHandshake: (status 400) end-of-file before 8 bytes.
            RuntimeError: when called again after key3 was complete.
        """
        if self.complete:
            raise RuntimeError("feed() called after key3 was complete")
        if not data:
            raise InvalidHandshake(
                f"the request ended after {len(self._key3)} of the "
                f"{KEY3_LENGTH} bytes of draft-76 key3",
                400,
            )
        need = KEY3_LENGTH - len(self._key3)
        self._key3 += data[:need]
        if not self.complete:
            return False
        self._trailing = bytes(data[need:])
        return True


def build_hixie76_response(
    offer: Hixie76Offer,
    key3: bytes,
    *,
    secure: bool,
    subprotocol: str | None = None,
) -> bytes:
    """Return the whole draft-76 answer: the 101 head and the 16-byte response.

    Args:
        key3: the 8 bytes that followed the request head.
        secure: True on TLS (the location then says ``wss://``).
        subprotocol: the subprotocol accepted (it must be the offered one),
            or None to leave ``Sec-WebSocket-Protocol`` out.

    Raises:
        ValueError: ``subprotocol`` was not the one offered.
        InvalidHandshake: (status 400) ``key3`` is not 8 bytes.
    """
    if subprotocol is not None and subprotocol != offer.subprotocol:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
    answer = challenge_response(offer.part1, offer.part2, key3)
    scheme = "wss" if secure else "ws"
    # draft-76 5.2: these fields, the location being the URL the client
    # asked for (host and resource as sent).
    headers: list[tuple[str, str]] = [
        ("Upgrade", "WebSocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Origin", offer.origin),
        ("Sec-WebSocket-Location", f"{scheme}://{offer.host}{offer.resource}"),
    ]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    return encode_head(_STATUS_LINE, tuple(headers)) + answer
