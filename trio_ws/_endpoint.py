"""Connection endpoints: the address, port and TLS flag of each end."""

from __future__ import annotations

import attrs
import trio

__all__ = ["Endpoint", "endpoint_of"]


@attrs.frozen
class Endpoint:
    """One end of a connection: host address, port, and whether TLS is used.

    ``str(endpoint)`` gives a URL-like form, e.g. ``"wss://127.0.0.1:8443"``.

    Attributes:
        address: the IP address, as a string (IPv6 without brackets).
        port: the TCP port.
        is_ssl: True when the connection runs over TLS.
    """

    address: str
    port: int
    is_ssl: bool

    def __str__(self) -> str:
        scheme = "wss" if self.is_ssl else "ws"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{host}:{self.port}"


def endpoint_of(stream: trio.abc.Stream, *, local: bool) -> Endpoint | None:
    is_ssl = isinstance(stream, trio.SSLStream)
    inner = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if not isinstance(inner, trio.SocketStream):
        return None
    try:
        sockaddr = inner.socket.getsockname() if local else inner.socket.getpeername()
    except OSError:
        return None
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return Endpoint(str(sockaddr[0]), int(sockaddr[1]), is_ssl)
    return None
