"""The values and exceptions of trio-websocket's API, as ``trio_ws.compat`` has them.

These are small stand-alone classes: trio-websocket's ``CloseReason`` names
close codes differently from :class:`trio_ws.CloseReason`, its ``Endpoint``
holds an :mod:`ipaddress` object, and its exceptions are plain ``Exception``
subclasses with their own constructor arguments (all of them copyable and
picklable). The defaults of trio-websocket 0.12 are here too.
"""

from __future__ import annotations

import ipaddress

from ._engine import CLOSE_CODE_NAMES

__all__ = [
    "CONN_TIMEOUT",
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "RECEIVE_BYTES",
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
]

#: Default ``connect_timeout`` and ``disconnect_timeout``, in seconds.
CONN_TIMEOUT = 60
#: Default ``message_queue_size``.
MESSAGE_QUEUE_SIZE = 1
#: Default ``max_message_size`` (1 MiB).
MAX_MESSAGE_SIZE = 2**20
#: Default ``receive_buffer_size`` (4 KiB).
RECEIVE_BYTES = 4096

# The names trio-websocket gives registered close codes (those of wsproto's
# CloseReason enumeration): trio_ws's, but for three spellings and 1014,
# which it does not name. Other codes are named after their range.
_CODE_NAMES = {
    **{code: name for code, name in CLOSE_CODE_NAMES.items() if code != 1014},
    1007: "INVALID_FRAME_PAYLOAD_DATA",
    1010: "MANDATORY_EXT",
    1015: "TLS_HANDSHAKE_FAILED",
}


def _code_name(code: int) -> str:
    name = _CODE_NAMES.get(code)
    if name is not None:
        return name
    if 1000 <= code <= 2999:
        return "RFC_RESERVED"
    if 3000 <= code <= 3999:
        return "IANA_RESERVED"
    if 4000 <= code <= 4999:
        return "PRIVATE_RESERVED"
    return "INVALID_CODE"


class CloseReason:
    """Why a connection closed (or is closing): a code, its name, a reason.

    ``reason`` is None when no reason text was given.
    """

    __slots__ = ("_code", "_name", "_reason")

    def __init__(self, code: int, reason: str | None) -> None:
        self._code = code
        self._name = _code_name(code)
        self._reason = reason

    @property
    def code(self) -> int:
        """The numeric close code, e.g. 1000."""
        return self._code

    @property
    def name(self) -> str:
        """The code's name, e.g. ``"NORMAL_CLOSURE"``."""
        return self._name

    @property
    def reason(self) -> str | None:
        """The reason text, or None."""
        return self._reason

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}<code={self._code}, name={self._name}, "
            f"reason={self._reason}>"
        )


class Endpoint:
    """One end of a TCP connection or listener.

    Attributes:
        address: an :func:`ipaddress.ip_address` object.
        port: the TCP port.
        is_ssl: True over TLS.
    """

    def __init__(self, address: str | int, port: int, is_ssl: bool) -> None:
        self.address = ipaddress.ip_address(address)
        self.port = port
        self.is_ssl = is_ssl

    @property
    def url(self) -> str:
        """``ws://`` or ``wss://`` URL of this endpoint; the port is left out
        when it is the scheme's default (80 or 443)."""
        scheme = "wss" if self.is_ssl else "ws"
        default = 443 if self.is_ssl else 80
        port = "" if self.port == default else f":{self.port}"
        host = str(self.address)
        if self.address.version == 6:
            host = f"[{host}]"
        return f"{scheme}://{host}{port}"

    def __repr__(self) -> str:
        return (
            f'Endpoint(address="{self.address}", port={self.port}, '
            f"is_ssl={self.is_ssl})"
        )


class HandshakeError(Exception):
    """The opening or closing handshake failed (see the subclasses), or the
    network failed while opening a client connection."""


class ConnectionTimeout(HandshakeError):
    """The client's opening handshake took longer than ``connect_timeout``."""


class DisconnectionTimeout(HandshakeError):
    """The client's closing handshake took longer than ``disconnect_timeout``."""


class ConnectionClosed(Exception):
    """The connection is closed, or closing: no message can be sent or received.

    Attributes:
        reason: a :class:`CloseReason`.
    """

    def __init__(self, reason: CloseReason | None) -> None:
        super().__init__(reason)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.reason}>"


class ConnectionRejected(HandshakeError):
    """The server answered the opening handshake with a status other than 101.

    Attributes:
        status_code: the HTTP status.
        headers: the response's headers, ``(name, value)`` pairs of bytes with
            lower-case names.
        body: the response body; None for an informational (1xx) answer.
    """

    def __init__(
        self,
        status_code: int,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
    ) -> None:
        super().__init__(status_code, headers, body)
        self.status_code = status_code
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}<status_code={self.status_code}>"
