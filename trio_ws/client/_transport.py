"""Two steps every client transport shares: starting TLS on a stream, and
reading the body of an HTTP refusal (the server's non-101, a proxy's non-2xx
to CONNECT)."""

from __future__ import annotations

import ssl

import trio

from .._core import _handshake as hs
from .._core._body import ResponseBody

__all__ = ["read_refusal_body", "start_tls"]


async def start_tls(
    stream: trio.abc.Stream, context: ssl.SSLContext, hostname: str
) -> trio.SSLStream[trio.abc.Stream]:
    """TLS over ``stream``, handshake done. A failure raises the TLS error
    itself (an OSError such as ``ssl.SSLCertVerificationError``) rather than
    trio's wrapper, and closes ``stream``."""
    tls = trio.SSLStream(stream, context, server_hostname=hostname)
    try:
        await tls.do_handshake()
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(tls)
        cause = exc.__cause__
        if isinstance(cause, OSError):
            raise cause from None
        raise
    except BaseException:
        await trio.aclose_forcefully(tls)
        raise
    return tls


async def read_refusal_body(
    stream: trio.abc.Stream, response: hs.Response, received: bytes, receive_size: int
) -> bytes:
    """Read a refusal's body (RFC 9112 6.3: none for 1xx/204/304, chunked
    decoded, Content-Length, else until EOF), keeping at most
    ``MAX_RESPONSE_BODY`` bytes; a transport error ends it where it is."""
    body = ResponseBody(response, hs.MAX_RESPONSE_BODY)
    body.feed(received)
    try:
        while not body.done:
            data = await stream.receive_some(receive_size)
            if not data:
                body.eof()
                break
            body.feed(data)
    except (trio.BrokenResourceError, OSError):
        pass
    return bytes(body.data)
