"""Connection options shared by the server and the client, with named defaults."""

from __future__ import annotations

from typing import Any, TypedDict

import attrs

from ._core._deflate import DeflateOptions, DeflateParams, PerMessageDeflate
from ._core._protocol import (
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    Protocol,
    Role,
)

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MESSAGE_QUEUE_SIZE",
    "DEFAULT_OPEN_TIMEOUT",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "DEFAULT_RECEIVE_SIZE",
    "DEFAULT_WRITE_TIMEOUT",
    "ConnectionOptions",
    "OptionsDict",
    "seconds",
]

# Messages buffered between the reader task and the user. With the default
# 1 MiB message limit this bounds a connection's queued data to 16 MiB; when
# the queue is full the reader stops reading the socket (backpressure).
DEFAULT_MESSAGE_QUEUE_SIZE = 16

# Seconds for TCP connect + TLS + the HTTP upgrade, on either side.
DEFAULT_OPEN_TIMEOUT = 10.0

# Seconds to wait for the peer's close frame (and, on a client, for the
# server to close TCP) before the transport is closed regardless.
DEFAULT_CLOSE_TIMEOUT = 10.0

# Keepalive: a ping every 20 s; no pong within 20 s closes with 1011.
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PING_TIMEOUT = 20.0

# write_timeout: seconds a write may wait for the peer to read (per 256 KiB:
# see WRITE_TIMEOUT_CHUNK in _writer.py) before the connection is aborted.
# None by default, because keepalive (on by default) already drops a peer
# that stops reading: our ping cannot reach it, no pong comes back, and the
# connection is closed within ping_interval + ping_timeout + close_timeout
# (50 s), the stuck write included (tests/test_slow_peers.py). A write
# timeout costs a cancel scope around every write: about a tenth of the
# server CPU of an echoed message (docs/performance.rst). Set it with keepalive off, or
# for a tighter bound (e.g. 30: a slow link still gets 256 KiB through at
# ~9 KB/s).
DEFAULT_WRITE_TIMEOUT: float | None = None

# Largest single read from the transport, in bytes.
DEFAULT_RECEIVE_SIZE = 65536


def seconds(timeout: float | None) -> float:
    """A timeout option as trio's cancel scopes want it: None means forever."""
    return float("inf") if timeout is None else timeout


def _positive_or_none(
    _inst: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    # (NaN fails ``value > 0`` too.)
    if value is not None and not value > 0:
        raise ValueError(
            f"{attribute.name} must be a positive number or None, not {value!r}"
        )


def _positive_int_or_none(
    _inst: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value <= 0:
        raise ValueError(
            f"{attribute.name} must be a positive integer or None, not {value!r}"
        )


def _positive_int(_inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


def _compression_options(value: str | DeflateOptions | None) -> DeflateOptions | None:
    # compression="deflate" (the default) offers/accepts permessage-deflate with
    # the memory-frugal defaults; a DeflateOptions tunes it; None disables it.
    if value is None or isinstance(value, DeflateOptions):
        return value
    if value == "deflate":
        return DeflateOptions()
    raise ValueError(
        f"compression must be 'deflate', a DeflateOptions or None, not {value!r}"
    )


@attrs.frozen(kw_only=True)
class ConnectionOptions:
    """The keyword options every entry point accepts (same names everywhere).

    Attributes:
        max_message_size: largest incoming message in bytes (None: no limit);
            a larger one closes the connection with 1009.
        max_fragments: most frames one incoming message may span, the
            first one included; more closes the connection with 1009.
        message_queue_size: incoming messages buffered for ``receive()``; a
            full queue stops reading from the socket (see the README on what
            this means for pings).
        open_timeout: seconds for TCP + TLS + the opening handshake.
        close_timeout: seconds to wait for the closing handshake.
        ping_interval: seconds between keepalive pings (None: no keepalive).
        ping_timeout: seconds to wait for a keepalive pong before closing with
            1011 (None: wait forever).
        receive_size: largest single read from the transport into a new
            buffer. (On a plain socket, the payload of a frame of 256 KiB or
            more is read straight into memory taken for it as it arrives,
            in reads as large as that room: room for as many bytes as have
            arrived so far, rounded up to a power of two, 16 KiB at first.)
        write_timeout: seconds a write may wait for the peer to read, per
            256 KiB written (None, the default: no timeout of its own; the
            keepalive drops a peer that stops reading). When it expires the
            connection is aborted (1006: a peer that does not read cannot be
            sent a close frame) and ``ConnectionClosed.__cause__`` is a
            :class:`WriteTimeout`.
        compression: ``"deflate"`` (default) negotiates permessage-deflate
            (RFC 7692) with memory-frugal settings; a :class:`DeflateOptions`
            sets window bits, memory level, compression level and the size
            threshold below which messages go uncompressed; None disables it.
    """

    max_message_size: int | None = attrs.field(
        default=DEFAULT_MAX_MESSAGE_SIZE, validator=_positive_int_or_none
    )
    max_fragments: int | None = attrs.field(
        default=DEFAULT_MAX_FRAGMENTS, validator=_positive_int_or_none
    )
    message_queue_size: int = attrs.field(
        default=DEFAULT_MESSAGE_QUEUE_SIZE, validator=_positive_int
    )
    open_timeout: float | None = attrs.field(
        default=DEFAULT_OPEN_TIMEOUT, validator=_positive_or_none
    )
    close_timeout: float | None = attrs.field(
        default=DEFAULT_CLOSE_TIMEOUT, validator=_positive_or_none
    )
    ping_interval: float | None = attrs.field(
        default=DEFAULT_PING_INTERVAL, validator=_positive_or_none
    )
    ping_timeout: float | None = attrs.field(
        default=DEFAULT_PING_TIMEOUT, validator=_positive_or_none
    )
    receive_size: int = attrs.field(
        default=DEFAULT_RECEIVE_SIZE, validator=_positive_int
    )
    write_timeout: float | None = attrs.field(
        default=DEFAULT_WRITE_TIMEOUT, validator=_positive_or_none
    )
    compression: DeflateOptions | None = attrs.field(
        default=DeflateOptions(), converter=_compression_options
    )

    def make_protocol(
        self, role: Role, deflate: DeflateParams | None = None
    ) -> Protocol:
        """The sans-I/O protocol object for one connection with these options.

        Args:
            deflate: the negotiated permessage-deflate parameters, if any.
        """
        extension = None
        if deflate is not None and self.compression is not None:
            extension = PerMessageDeflate(
                deflate, is_client=role is Role.CLIENT, options=self.compression
            )
        # defer_failure: the connection delivers the messages received before
        # a peer fault, then fails (see WebSocket._fail_in_order).
        return Protocol(
            role,
            max_message_size=self.max_message_size,
            max_fragments=self.max_fragments,
            defer_failure=True,
            extension=extension,
            # receive() or receive_stream() decides how each fragmented
            # message is taken (see _streaming.py).
            pause_fragmented=True,
        )


class OptionsDict(TypedDict, total=False):
    """Typing for ``**options``: the fields of :class:`ConnectionOptions`."""

    max_message_size: int | None
    max_fragments: int | None
    message_queue_size: int
    open_timeout: float | None
    close_timeout: float | None
    ping_interval: float | None
    ping_timeout: float | None
    receive_size: int
    write_timeout: float | None
    compression: str | DeflateOptions | None
