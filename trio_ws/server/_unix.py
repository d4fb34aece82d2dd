"""Unix domain socket listeners: ``serve_websocket(..., unix_socket=PATH)``.

Trio opens Unix sockets for clients (``trio.open_unix_socket``) but has no
listener for them; this is one. Binding removes a stale socket file left by
a server that died (nobody accepts on it any more), never a live one nor a
file that is not a socket; closing removes the file it bound, unless another
server has replaced it since.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

import trio

from ._listeners import DEFAULT_BACKLOG

__all__ = ["UnixListener", "open_unix_listener"]


class UnixListener(trio.abc.Listener[trio.SocketStream]):
    """A listener on a Unix domain socket; ``aclose()`` removes its file.

    Attributes:
        path: the socket's path in the file system.
        socket: the listening trio socket.
    """

    def __init__(self, sock: trio.socket.SocketType, path: str) -> None:
        self._listener = trio.SocketListener(sock)
        self.socket = sock
        self.path = path
        # (device, inode) of the file we bound, so aclose() removes only it.
        self._identity = _identity(path)

    async def accept(self) -> trio.SocketStream:
        return await self._listener.accept()

    async def aclose(self) -> None:
        try:
            ours = self._identity
            if ours is not None and _identity(self.path) == ours:
                os.unlink(self.path)
        except OSError:
            pass
        await self._listener.aclose()

    def __repr__(self) -> str:
        return f"<UnixListener {self.path!r}>"


async def open_unix_listener(
    path: str | os.PathLike[str],
    *,
    mode: int | None = None,
    backlog: int = DEFAULT_BACKLOG,
) -> UnixListener:
    """Listen on a Unix domain socket at ``path``.

    Args:
        path: where the socket file goes. A stale socket file there (its
            server is gone) is replaced.
        mode: permission bits for the socket file (e.g. ``0o660`` so that a
            group such as the reverse proxy's may connect); None keeps what
            the umask gives.
        backlog: pending connections the kernel queues.

    Raises:
        OSError: ``EADDRINUSE`` when a server is accepting on ``path``, or
            ``path`` exists and is not a socket; any error of bind().
        NotImplementedError: the platform has no Unix sockets.
    """
    if not hasattr(socket, "AF_UNIX"):
        raise NotImplementedError("Unix domain sockets are not available here")
    text = os.fspath(path)
    await _remove_stale(text)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(text)
        if mode is not None:
            os.chmod(text, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return UnixListener(sock, text)


async def _remove_stale(path: str) -> None:
    """Remove ``path`` if it is a socket that nobody accepts on."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise OSError(errno.EADDRINUSE, f"{path} exists and is not a socket")
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)  # the server that bound it is gone
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"a server is already listening on {path}")


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)
