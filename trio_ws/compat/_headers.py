"""Header conversions: trio-websocket's ``bytes`` pairs, trio_ws's ``str`` pairs."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "OWN_REQUEST_HEADERS",
    "OWN_RESPONSE_HEADERS",
    "BytesHeaders",
    "as_bytes",
    "as_text",
]

BytesHeaders = tuple[tuple[bytes, bytes], ...]

# The headers the handshake writes itself (lower case). Extra headers with
# these names are left out: the handshake's own values win.
_OWN_BOTH = {
    "upgrade",
    "connection",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
}
OWN_REQUEST_HEADERS = frozenset(
    {*_OWN_BOTH, "host", "sec-websocket-key", "sec-websocket-version"}
)
OWN_RESPONSE_HEADERS = frozenset({*_OWN_BOTH, "sec-websocket-accept"})


def _text(value: bytes | str) -> str:
    # RFC 7230 3.2.4: header octets are ISO-8859-1.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def as_text(
    headers: Iterable[tuple[bytes | str, bytes | str]] | None,
    *,
    leave_out: frozenset[str] = frozenset(),
) -> tuple[tuple[str, str], ...]:
    """``(name, value)`` pairs as ``str``, without names in ``leave_out``."""
    pairs = []
    for name, value in headers or ():
        text_name = _text(name)
        if text_name.lower() not in leave_out:
            pairs.append((text_name, _text(value)))
    return tuple(pairs)


def as_bytes(
    headers: Iterable[tuple[str, str]], *, leave_out: frozenset[str] = frozenset()
) -> BytesHeaders:
    """``(name, value)`` pairs as ``bytes`` with lower-case names (as
    trio-websocket reports headers), without names in ``leave_out``."""
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
        if name.lower() not in leave_out
    )
