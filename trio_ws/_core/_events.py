"""Events the sans-I/O core emits, as frozen attrs classes.

``Protocol.events()`` yields these in wire order. Whole-message events
(``TextMessage``, ``BinaryMessage``) are assembled from frames by
:class:`~._assembler.MessageAssembler`;
control frames (``Ping``, ``Pong``, ``CloseReceived``) are reported as they
arrive, even in the middle of a fragmented message.
"""

from __future__ import annotations

import attrs

from ._errors import RemoteProtocolError

__all__ = [
    "BinaryMessage",
    "CloseReason",
    "CloseReceived",
    "ConnectionLost",
    "Event",
    "MessageChunk",
    "MessageStart",
    "Ping",
    "Pong",
    "ProtocolFailure",
    "TextMessage",
    "close_code_name",
    "make_close_reason",
]

# RFC 6455 7.4.1 and the IANA registry: names for the codes users will see.
_CLOSE_CODE_NAMES = {
    1000: "NORMAL_CLOSURE",
    1001: "GOING_AWAY",
    1002: "PROTOCOL_ERROR",
    1003: "UNSUPPORTED_DATA",
    1005: "NO_STATUS_RCVD",
    1006: "ABNORMAL_CLOSURE",
    1007: "INVALID_PAYLOAD_DATA",
    1008: "POLICY_VIOLATION",
    1009: "MESSAGE_TOO_BIG",
    1010: "MANDATORY_EXTENSION",
    1011: "INTERNAL_ERROR",
    1012: "SERVICE_RESTART",
    1013: "TRY_AGAIN_LATER",
    1014: "BAD_GATEWAY",
    1015: "TLS_HANDSHAKE",
}


def close_code_name(code: int) -> str:
    """Return the registered name of a close code, or a descriptive fallback."""
    name = _CLOSE_CODE_NAMES.get(code)
    if name is not None:
        return name
    if 3000 <= code <= 3999:
        return "REGISTERED"
    if 4000 <= code <= 4999:
        return "PRIVATE_USE"
    return "UNKNOWN"


@attrs.frozen
class CloseReason:
    """Why a connection closed.

    Attributes:
        code: the close code (1005 when the peer sent no code, 1006 when the
            connection was lost without a close frame).
        name: the code's registered name, e.g. ``"NORMAL_CLOSURE"``.
        reason: the reason text the peer gave (may be empty).
    """

    code: int
    reason: str = ""
    name: str = attrs.field(init=False)

    @name.default
    def _name_default(self) -> str:
        return close_code_name(self.code)

    def __str__(self) -> str:
        text = f"{self.code} ({self.name})"
        return f"{text}: {self.reason}" if self.reason else text


# One CloseReason per registered code without a reason text, shared (it is
# immutable): every closing handshake makes two, usually of these.
_REASONLESS = {code: CloseReason(code) for code in _CLOSE_CODE_NAMES}


def make_close_reason(code: int, reason: str = "") -> CloseReason:
    """``CloseReason(code, reason)``; a shared one for a registered code
    without a reason text."""
    if not reason:
        shared = _REASONLESS.get(code)
        if shared is not None:
            return shared
    return CloseReason(code, reason)


class Event:
    """Base class of every event the core emits."""

    __slots__ = ()


@attrs.frozen(slots=True)
class TextMessage(Event):
    """A complete text message (already UTF-8 validated and decoded)."""

    data: str


@attrs.frozen(slots=True)
class BinaryMessage(Event):
    """A complete binary message."""

    data: bytes


@attrs.frozen(slots=True)
class MessageStart(Event):
    """A fragmented message began; the protocol waits for a receiving mode.

    Emitted only by a protocol created with ``pause_fragmented=True``, for
    the first frame of a message that spans several frames. Parsing stops
    until :meth:`Protocol.choose_message_mode` says whether the message is
    assembled whole (then a :class:`TextMessage` or :class:`BinaryMessage`
    follows) or streamed (then :class:`MessageChunk` events follow).
    """

    is_text: bool


@attrs.frozen(slots=True)
class MessageChunk(Event):
    """One data frame of a streamed message, inflated and UTF-8 decoded.

    ``data`` is ``str`` for a text message (whole characters only: a UTF-8
    sequence split across frames is completed by the next chunk) and
    ``bytes`` for a binary one; ``final`` is True on the message's last chunk.
    """

    data: str | bytes
    final: bool


@attrs.frozen(slots=True)
class Ping(Event):
    """The peer sent a ping; the core has already queued the matching pong."""

    payload: bytes


@attrs.frozen(slots=True)
class Pong(Event):
    """The peer sent a pong (an answer to our ping, or unsolicited)."""

    payload: bytes


@attrs.frozen(slots=True)
class CloseReceived(Event):
    """The peer sent a close frame.

    If the peer started the closing handshake, the core has already queued the
    echo of the close frame; either way no more frames will be read.
    ``reason`` is what the peer sent (code 1005 if the frame had no code).
    """

    reason: CloseReason


@attrs.frozen(slots=True)
class ProtocolFailure(Event):
    """The peer broke the protocol and the core failed the connection.

    The core has queued a close frame with ``error.close_code`` (1002, 1007,
    1009 ...); the I/O layer should flush it and close the transport.
    """

    error: RemoteProtocolError


@attrs.frozen(slots=True)
class ConnectionLost(Event):
    """The transport reached end-of-file before the closing handshake ended."""
