"""Connection endpoints: the address, port and TLS flag of each end (sans-I/O)."""

from __future__ import annotations

import attrs

__all__ = ["Endpoint"]


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
