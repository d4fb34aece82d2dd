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
import os
from collections.abc import Sequence

import attrs

from ._endpoint import Endpoint
from ._errors import InvalidHandshake
from ._http import (
    _CONTENT_LENGTH,
    _HTTP_VERSION,
    _TARGET,
    _TOKEN,
    MAX_HEAD_SIZE,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    MAX_RESPONSE_BODY,
    Headers,
    HeadReader,
    build_http_response,
    encode_head,
    get_header,
    header_tokens,
    header_values,
    parse_head,
    split_list,
    split_top_level,
)
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


# RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key before hashing.
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Headers the handshake writes itself; extra_headers may not repeat them.
_BOTH_OWN = "upgrade connection sec-websocket-protocol sec-websocket-extensions"
_REQUEST_OWN_HEADERS = frozenset(
    f"{_BOTH_OWN} host sec-websocket-key sec-websocket-version".split()
)
_RESPONSE_OWN_HEADERS = frozenset(f"{_BOTH_OWN} sec-websocket-accept".split())

_UPGRADE_HEADERS: Headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
# The 101 answer up to the accept key (build_accept_response's common case).
_ACCEPT_HEAD = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
)


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


# --- Server side ----------------------------------------------------------------


@attrs.frozen
class Request:
    """A parsed HTTP request head.

    Attributes:
        method, http_version: e.g. ``"GET"``, ``"HTTP/1.1"``.
        target, path, query: e.g. ``"/chat?room=1"``, ``"/chat"``,
            ``"room=1"`` (query without ``"?"``, may be empty).
        headers: the header fields, in order, names as sent.
        local, remote: on a server, this end's and the client's address
            (:class:`Endpoint`), so that ``process_request`` can answer by
            address (an allow-list, say) before the upgrade; None when the
            transport is not a socket.
    """

    method: str
    target: str
    path: str
    query: str
    http_version: str
    headers: Headers
    local: Endpoint | None = None
    remote: Endpoint | None = None

    def get(self, name: str) -> str | None:
        """Return a header value, case-insensitively (see :func:`get_header`).

        A header sent several times gives its values joined with ``", "``.
        """
        return get_header(self.headers, name)

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        return header_values(self.headers, name.lower())


def _index(headers: Headers) -> dict[str, list[str]]:
    # Lower-cased name -> values, in one pass: validate_request looks up ~8
    # names, each a scan of the list otherwise. (Not kept on the Request: it
    # lives as long as the connection, and ~1 KiB each would show.)
    index: dict[str, list[str]] = {}
    for name, value in headers:
        index.setdefault(name.lower(), []).append(value)
    return index


def _joined(index: dict[str, list[str]], lower_name: str) -> str | None:
    values = index.get(lower_name)
    return None if values is None else ", ".join(values)


def parse_request(
    head: bytes, *, local: Endpoint | None = None, remote: Endpoint | None = None
) -> Request:
    """Parse an HTTP/1.1 request head (as :attr:`HeadReader.head` gives it).

    ``local`` and ``remote`` are recorded on the request as they are.

    Raises:
        InvalidHandshake: ``status_code`` 414 for a request line over
            :data:`MAX_REQUEST_LINE`; 431 for a header line over
            :data:`MAX_HEADER_LINE`, over :data:`MAX_HEADERS` headers or a
            head over :data:`MAX_HEAD_SIZE`; 505 for a version other than
            HTTP/1.1; 400 for anything malformed (request line, header names
            that are not tokens, control characters, line folding).
    """
    first, headers = parse_head(head)
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
    return Request(method, target, path, query, version, headers, local, remote)


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
    index = _index(request.headers)
    if "websocket" not in _tokens(_joined(index, "upgrade")):
        raise InvalidHandshake("missing Upgrade: websocket", 426, _UPGRADE_HEADERS)
    if "upgrade" not in _tokens(_joined(index, "connection")):
        raise InvalidHandshake("missing Connection: Upgrade", 426, _UPGRADE_HEADERS)
    # RFC 6455 4.2.1 item 2; RFC 7230 5.4: 400 for a missing or repeated Host.
    hosts = index.get("host", [])
    if len(hosts) != 1 or not hosts[0]:
        raise InvalidHandshake("missing or repeated Host header", 400)
    # RFC 6455 4.2.1 item 5: base64 of a 16-byte value; exactly one header.
    keys = index.get("sec-websocket-key", [])
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
    if _joined(index, "sec-websocket-version") != "13":
        raise InvalidHandshake(
            "unsupported Sec-WebSocket-Version", 426, (("Sec-WebSocket-Version", "13"),)
        )
    return ClientOffer(
        key=key,
        subprotocols=tuple(split_list(_joined(index, "sec-websocket-protocol"))),
        extensions=tuple(split_top_level(_joined(index, "sec-websocket-extensions"))),
        origin=_joined(index, "origin"),
    )


def _tokens(value: str | None) -> list[str]:
    # A comma-separated token list, lower-cased (see header_tokens()).
    return [item.lower() for item in split_list(value)]


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
    if not extra_headers and not extensions and subprotocol is None:
        # The common answer, from a precomputed head: nothing in it comes from
        # the caller but the accept key (base64: no CR, LF or controls).
        return b"%s%s\r\n\r\n" % (_ACCEPT_HEAD, accept_key(offer.key).encode())
    _check_extra(extra_headers, _RESPONSE_OWN_HEADERS)
    headers = [*_UPGRADE_HEADERS, ("Sec-WebSocket-Accept", accept_key(offer.key))]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    headers.extend(extra_headers)
    return encode_head("HTTP/1.1 101 Switching Protocols", tuple(headers))


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
    return encode_head(f"GET {url.resource} HTTP/1.1", tuple(headers))


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
    first, headers = parse_head(head)
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
    chosen = split_list(response.get("Sec-WebSocket-Protocol"))
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
