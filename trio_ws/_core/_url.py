"""Parsing of ``ws://`` and ``wss://`` URLs (RFC 6455 section 3).

Sans-I/O: standard library and attrs only.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

import attrs

from ._errors import InvalidURL

__all__ = ["DEFAULT_PORTS", "WebSocketURL", "parse_url"]

# RFC 6455 3: the port component is optional; the default is 80 for "ws" and
# 443 for "wss".
DEFAULT_PORTS = {"ws": 80, "wss": 443}

# RFC 3986 3.2.2 reg-name = *( unreserved / pct-encoded / sub-delims ), checked
# after lower-casing (and IDNA encoding of non-ASCII names).
_REG_NAME = re.compile(r"[a-z0-9\-._~!$&'()*+,;=%]+")

# RFC 3986 3.2.3: port = *DIGIT. We require at least one digit (see parse_url).
_PORT = re.compile(r"[0-9]{1,5}")

# Control characters (and space, which is not valid in a URI either) are never
# accepted in the authority; in the resource, space is percent-encoded.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Characters of the resource name that are kept as they are when the resource
# is percent-encoded: RFC 3986 2.2 sub-delims, ":" "@" "/" "?" and "%" (so
# existing escapes are not encoded twice). Letters, digits and "-._~" are
# always kept by urllib.parse.quote.
_RESOURCE_SAFE = "!$&'()*+,;=:@/?%"


@attrs.frozen
class WebSocketURL:
    """A parsed ``ws://`` or ``wss://`` URL.

    Attributes:
        scheme: ``"ws"`` or ``"wss"`` (always lower case).
        host: the host name (lower case) or IP address; IPv6 addresses are
            stored without brackets, e.g. ``"::1"``.
        port: the TCP port: the explicit one, or 80 for ``ws`` and 443 for
            ``wss``.
        resource: the resource name sent in the request line: path plus
            ``"?"`` plus query, ``"/"`` when the URL has no path.
        secure: True for ``wss`` (TLS), False for ``ws``.
    """

    scheme: str
    host: str
    port: int
    resource: str
    secure: bool

    @property
    def path(self) -> str:
        """The path part of :attr:`resource` (always starts with ``"/"``)."""
        return self.resource.partition("?")[0]

    @property
    def query(self) -> str:
        """The query part of :attr:`resource`, without ``"?"`` (may be empty)."""
        return self.resource.partition("?")[2]

    @property
    def bracketed_host(self) -> str:
        """:attr:`host` as written in a URL or a header: an IPv6 address in
        brackets (RFC 3986 3.2.2), e.g. ``"[::1]"``."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def host_header(self) -> str:
        """The value of the ``Host`` header for this URL.

        IPv6 addresses are put in brackets and the port is omitted when it is
        the default one for the scheme (RFC 7230 5.4, RFC 6455 4.1).
        """
        host = self.bracketed_host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        """The URL as text: ``scheme://host[:port]/resource``."""
        return f"{self.scheme}://{self.host_header}{self.resource}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port)``: what must match for two URLs to be one
        server (credentials are not sent across origins on a redirect)."""
        return (self.scheme, self.host, self.port)


def parse_url(url: str) -> WebSocketURL:
    """Parse a ``ws://`` or ``wss://`` URL.

    The scheme is case-insensitive and the host is lower-cased; a non-ASCII
    host name is IDNA-encoded. In the resource (path and query), spaces and
    non-ASCII characters are percent-encoded (UTF-8); existing ``%xx``
    escapes are kept.

    Args:
        url: the URL, e.g. ``"ws://example.com:8080/chat?room=1"`` or
            ``"wss://[::1]/"``.

    Returns:
        The parsed :class:`WebSocketURL`.

    Raises:
        InvalidURL: (also a :class:`ValueError`) for a scheme other than
            ``ws``/``wss``, a missing host, a port that is empty, not a number
            or outside 1-65535, a fragment (``#``: RFC 6455 3 forbids them),
            user information (``user:password@``: send credentials in an
            ``Authorization`` header with ``extra_headers`` instead), an IPv6
            zone identifier, or control characters.
    """
    if _CONTROL.search(url):
        raise InvalidURL(f"control character in URL {url!r}")
    # RFC 6455 3: "Fragment identifiers are meaningless in the context of
    # WebSocket URIs and MUST NOT be used on these URIs."
    if "#" in url:
        raise InvalidURL(f"fragment ('#') not allowed in a WebSocket URL: {url!r}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"URL scheme must be ws:// or wss://: {url!r}")

    # RFC 3986 3.2: the authority ends at the first "/" or "?".
    end = len(rest)
    for delimiter in "/?":
        index = rest.find(delimiter)
        if index != -1:
            end = min(end, index)
    authority, resource = rest[:end], rest[end:]

    if "@" in authority:
        raise InvalidURL(f"user information not supported in URL {url!r}")
    host, port = _split_authority(authority, url)
    if port is None:
        port = DEFAULT_PORTS[scheme]

    # RFC 6455 3: resource-name is "/" if the path is empty, then "?" query.
    if not resource.startswith("/"):
        resource = "/" + resource
    resource = urllib.parse.quote(resource, safe=_RESOURCE_SAFE)
    return WebSocketURL(
        scheme=scheme, host=host, port=port, resource=resource, secure=scheme == "wss"
    )


def _split_authority(authority: str, url: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` into a validated host and the port (or None)."""
    if authority.startswith("["):
        # RFC 3986 3.2.2: IP-literal = "[" IPv6address "]"
        literal, bracket, after = authority[1:].partition("]")
        if not bracket or "%" in literal:
            raise InvalidURL(f"invalid IPv6 address in URL {url!r}")
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address in URL {url!r}") from None
        if after and not after.startswith(":"):
            raise InvalidURL(f"invalid authority in URL {url!r}")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_found = authority.partition(":")
        port_text = port_text_found if colon else None
        if ":" in port_text_found:
            raise InvalidURL(f"IPv6 addresses must be in brackets: {url!r}")
        host = _normalize_host(host, url)
    if port_text is None:
        return host, None
    # RFC 3986 3.2.3 allows an empty port ("host:"); we reject it as a likely
    # typo rather than silently using the default.
    if not _PORT.fullmatch(port_text) or not 0 < int(port_text) <= 65535:
        raise InvalidURL(f"invalid port {port_text!r} in URL {url!r}")
    return host, int(port_text)


def _normalize_host(host: str, url: str) -> str:
    """Lower-case (and IDNA-encode) a reg-name or IPv4 host; validate it."""
    if not host:
        raise InvalidURL(f"no host in URL {url!r}")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL(f"invalid host name in URL {url!r}") from None
    host = host.lower()
    if not _REG_NAME.fullmatch(host):
        raise InvalidURL(f"invalid host name in URL {url!r}")
    return host


# RFC 9110 10.2.2: a Location may be relative; it is resolved against the URL
# that was asked for. urllib knows how to resolve http(s) URLs only, so ws(s)
# are resolved as their HTTP twins; a server behind an HTTP redirector (say,
# nginx's "return 301 https://$host$request_uri") names an http(s) URL, which
# means the WebSocket URL of the same origin.
_AS_HTTP = {"ws": "http", "wss": "https"}
_AS_WS = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def resolve_location(base: WebSocketURL, location: str) -> WebSocketURL:
    """The URL a redirect's ``Location`` header points to, seen from ``base``.

    ``location`` may be absolute (``ws``, ``wss``, ``http`` or ``https``; the
    last two are taken as ``ws`` and ``wss``), scheme-relative (``//host/p``)
    or relative (``/p``, ``p?q``). A fragment is dropped (RFC 6455 3).

    Raises:
        InvalidURL: the result is not a valid WebSocket URL (another scheme,
            no host...).
    """
    http_scheme = _AS_HTTP[base.scheme]
    base_text = f"{http_scheme}://{base.bracketed_host}:{base.port}{base.resource}"
    joined = urllib.parse.urljoin(base_text, location.strip())
    joined = joined.partition("#")[0]
    scheme, sep, rest = joined.partition("://")
    ws_scheme = _AS_WS.get(scheme.lower())
    if not sep or ws_scheme is None:
        raise InvalidURL(
            f"redirect to a URL that is not ws(s) or http(s): {location!r}"
        )
    return parse_url(f"{ws_scheme}://{rest}")
