"""Admission control: ``max_connections``, and the 503 beyond it.

Every accepted connection counts against the limit from accept to close,
whatever it turns out to be (a WebSocket, a plain HTTP request, a client
that never finishes its handshake). One over the limit is not served: its
request is read, it is answered ``503 Service Unavailable`` with a
``Retry-After`` header (RFC 9110 15.6.4, 10.2.3) and closed; the handler
never runs. Answering takes a task and a socket for a short, bounded time,
and only so many at once: past that, connections over the limit are closed
unanswered, so a flood of connections costs the server almost nothing.
"""

from __future__ import annotations

import contextlib
import ssl

import trio

from .._core import _handshake as hs
from .._exceptions import InvalidHandshake
from .._http_io import read_head
from .._options import ConnectionOptions

__all__ = [
    "BUSY_ANSWER_TIMEOUT",
    "BUSY_RETRY_AFTER",
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_BUSY_ANSWERS",
    "Admission",
    "answer_busy",
]

# None: no limit of ours. The right number depends on what a connection
# costs the application (~12-16 KiB idle; up to message_queue_size x
# max_message_size when busy) and on the machine, so any fixed default would
# be wrong for most servers. Without one, the process's file-descriptor
# limit (RLIMIT_NOFILE) is the bound, and reaching it does not stop the
# server (accept() failures are logged and retried after 0.1 s). Set it to
# turn clients away with a clear 503 well before memory or descriptors run
# out.
DEFAULT_MAX_CONNECTIONS = None

# Seconds a turned-away client is asked to wait before retrying
# (Retry-After): long enough for some connections to end meanwhile.
BUSY_RETRY_AFTER = 5

# Seconds a turned-away connection gets for its TLS handshake (if any), its
# request head and taking the 503, before it is closed regardless. Reading
# the request first lets the client see the answer: closing a socket with
# unread data resets the connection (RST), which can destroy the response.
BUSY_ANSWER_TIMEOUT = 1.0

# Turned-away connections answered at once, at most (each holds a task and
# a socket for up to BUSY_ANSWER_TIMEOUT); beyond, they are closed at once.
MAX_BUSY_ANSWERS = 64

_BUSY_BODY = b"503 Service Unavailable: too many connections, retry later.\n"


class Admission:
    """Counts a server's connections against ``limit`` (None: no limit).

    Raises:
        ValueError: ``limit`` is not a positive integer or None.
    """

    __slots__ = ("_answering", "active", "limit")

    def __init__(self, limit: int | None) -> None:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(
                f"max_connections must be a positive integer or None, not {limit!r}"
            )
        self.limit = limit
        #: Connections admitted and not yet released.
        self.active = 0
        self._answering = 0  # turned-away connections being answered

    def admit(self) -> bool | None:
        """Count a new connection: True to serve it, False to answer it 503
        (:func:`answer_busy`), None to close it at once. Call
        :meth:`release` with the result (unless None) when it ends."""
        if self.limit is None or self.active < self.limit:
            self.active += 1
            return True
        if self._answering < MAX_BUSY_ANSWERS:
            self._answering += 1
            return False
        return None

    def release(self, admitted: bool) -> None:
        """A connection counted by :meth:`admit` ended."""
        if admitted:
            self.active -= 1
        else:
            self._answering -= 1


async def answer_busy(
    stream: trio.abc.Stream,
    ssl_context: ssl.SSLContext | None,
    options: ConnectionOptions,
) -> bool:
    """Read the request, answer 503 with Retry-After, close (bounded by
    BUSY_ANSWER_TIMEOUT; never raises for transport errors). Returns whether
    the 503 was written."""
    response = hs.build_http_response(
        503, (("Retry-After", str(BUSY_RETRY_AFTER)),), _BUSY_BODY
    )
    try:
        with trio.move_on_after(BUSY_ANSWER_TIMEOUT):
            if ssl_context is not None:
                stream = trio.SSLStream(stream, ssl_context, server_side=True)
                await stream.do_handshake()
            # (A malformed request gets the 503 too.)
            with contextlib.suppress(InvalidHandshake):
                await read_head(stream, options.receive_size)
            await stream.send_all(response)
            return True
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client left: nothing to answer
    finally:
        await trio.aclose_forcefully(stream)
    return False
