"""Following redirects of the opening handshake: where the next hop goes,
and which redirects are refused (:exc:`RedirectError`)."""

from __future__ import annotations

import ssl

import attrs

from .._core._errors import ConnectionRejected, InvalidURL
from .._core._http import get_header
from .._core._url import WebSocketURL, resolve_location
from .._exceptions import RedirectError

__all__ = ["DEFAULT_MAX_REDIRECTS", "REDIRECT_STATUSES", "Hop", "next_hop"]

# As websockets: at most 10 redirects are followed by default.
DEFAULT_MAX_REDIRECTS = 10

# RFC 9110 15.4: the redirections that name a new URL in Location. (300 and
# 304 do not; 305 and 306 are deprecated and unused.)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@attrs.frozen
class Hop:
    """One connection attempt of a chain of redirects.

    Attributes:
        url: the URL asked for.
        ssl_context: the caller's context for ``wss://`` (None: a default
            verifying one).
        unix_path: the Unix socket to connect to, or None for TCP.
        redirects: how many redirects led here.
    """

    url: WebSocketURL
    ssl_context: ssl.SSLContext | None = None
    unix_path: str | None = None
    redirects: int = 0


def next_hop(
    first: Hop, hop: Hop, rejected: ConnectionRejected, max_redirects: int
) -> Hop:
    """Where the rejection ``rejected`` of ``hop`` redirects to.

    Raises:
        ConnectionRejected: ``rejected`` itself, when it is no redirect (a
            status other than 301/302/303/307/308, or no Location).
        RedirectError: a redirect that may not be followed.
    """
    location = get_header(rejected.headers, "location")
    if rejected.status_code not in REDIRECT_STATUSES or not location:
        raise rejected
    here = str(hop.url)

    def refuse(why: str) -> RedirectError:
        return RedirectError(f"{why} ({here} -> {location})", here, location)

    if hop.redirects >= max_redirects:
        raise refuse(f"more than max_redirects={max_redirects} redirects") from rejected
    try:
        url = resolve_location(hop.url, location)
    except InvalidURL as exc:
        raise refuse(f"cannot follow the redirect: {exc}") from rejected
    if hop.url.secure and not url.secure:
        raise refuse("refusing to follow a redirect from wss:// to ws://") from rejected
    if hop.unix_path is not None and url.host != first.url.host:
        raise refuse(
            "a redirect to another host cannot be followed on a Unix socket"
        ) from rejected
    return attrs.evolve(hop, url=url, redirects=hop.redirects + 1)
