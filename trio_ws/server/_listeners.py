"""TCP listeners with SO_REUSEPORT, so several processes can share one port.

``serve_websocket(..., reuse_port=True)`` opens its listeners here. Every
worker process opens its own listening socket on the same address and port;
the kernel (Linux >= 3.9) spreads incoming connections between the sockets of
one group by a hash of the connection's addresses. All sockets of a group
need SO_REUSEPORT and the same effective user id (Linux socket(7)).
"""

from __future__ import annotations

import errno
import socket
import sys

import trio

__all__ = ["DEFAULT_BACKLOG", "ReusePortUnavailable", "open_reuse_port_listeners"]

# Pending connections the kernel queues per listening socket before accept().
# The kernel silently caps it at net.core.somaxconn (4096 by default on Linux
# 5.4+); with reuse_port every worker has its own queue of this length.
DEFAULT_BACKLOG = 4096


class ReusePortUnavailable(NotImplementedError):
    """SO_REUSEPORT is not available on this platform (``reuse_port=True``).

    A :exc:`NotImplementedError`: the platform, not the call, is lacking. Run
    one process there, or give ``serve_websocket`` your own ``listeners=``.
    """


def _set_reuse_port(sock: trio.socket.SocketType) -> None:
    option = getattr(socket, "SO_REUSEPORT", None)
    if option is None:  # Windows, and any Python built without it
        raise ReusePortUnavailable(
            f"reuse_port=True needs SO_REUSEPORT, which this platform "
            f"({sys.platform}) does not provide"
        )
    try:
        sock.setsockopt(socket.SOL_SOCKET, option, 1)
    except OSError as exc:
        # The constant exists but the kernel refuses it (Linux < 3.9).
        if exc.errno in (errno.ENOPROTOOPT, errno.EINVAL, errno.EOPNOTSUPP):
            raise ReusePortUnavailable(
                f"reuse_port=True: the kernel of this platform ({sys.platform}) "
                f"refused SO_REUSEPORT: {exc}"
            ) from exc
        raise


async def open_reuse_port_listeners(
    port: int,
    *,
    host: str | bytes | None = None,
    backlog: int = DEFAULT_BACKLOG,
) -> list[trio.SocketListener]:
    """Open TCP listeners with SO_REUSEPORT (and SO_REUSEADDR) set.

    Like :func:`trio.open_tcp_listeners`: one listener per address ``host``
    resolves to; ``None`` means every interface, IPv4 and IPv6 (each IPv6
    socket is IPV6_V6ONLY so the two do not collide). With ``port=0`` the
    first socket picks a free port and the others reuse it.

    Args:
        port: the TCP port; 0 picks a free one.
        host: an address or name to bind, or None for every interface.
        backlog: pending connections the kernel queues per socket.

    Returns:
        The listeners, bound and listening.

    Raises:
        ReusePortUnavailable: the platform has no SO_REUSEPORT (a
            :exc:`NotImplementedError`).
        OSError: binding failed (e.g. EADDRINUSE: a process holds the port
            without SO_REUSEPORT, or as another user).
    """
    addresses = await trio.socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[trio.SocketListener] = []
    unsupported: list[OSError] = []
    try:
        for family, type_, proto, _, sockaddr in addresses:
            try:
                sock = trio.socket.socket(family, type_, proto)
            except OSError as exc:
                if exc.errno == errno.EAFNOSUPPORT:  # e.g. IPv6 disabled
                    unsupported.append(exc)
                    continue
                raise
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                _set_reuse_port(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and listeners:
                    # Same free port on every address family: (host, port)
                    # for IPv4, (host, port, flowinfo, scope_id) for IPv6.
                    chosen = listeners[0].socket.getsockname()[1]
                    sockaddr = (sockaddr[0], chosen, *sockaddr[2:])
                await sock.bind(sockaddr)
                sock.listen(backlog)
            except BaseException:
                sock.close()
                raise
            listeners.append(trio.SocketListener(sock))
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    if not listeners:
        raise OSError(
            errno.EAFNOSUPPORT,
            f"no address family of {host!r} is supported here: {unsupported}",
        )
    return listeners
