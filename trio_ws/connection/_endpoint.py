"""Connection endpoints: the address, port and TLS flag of each end."""

from __future__ import annotations

import trio

from .._core._endpoint import Endpoint

__all__ = ["Endpoint", "endpoint_of"]


def endpoint_of(stream: trio.abc.Stream, *, local: bool) -> Endpoint | None:
    is_ssl = isinstance(stream, trio.SSLStream)
    inner = stream
    # TLS inside TLS (wss:// through an https:// proxy): the socket is under both.
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    if not isinstance(inner, trio.SocketStream):
        return None
    try:
        sockaddr = inner.socket.getsockname() if local else inner.socket.getpeername()
    except OSError:
        return None
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return Endpoint(str(sockaddr[0]), int(sockaddr[1]), is_ssl)
    return None
