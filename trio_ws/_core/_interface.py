"""What the I/O layer needs from a protocol object, as a ``typing.Protocol``.

Two classes provide it: :class:`~._protocol.Protocol` (RFC 6455) and
:class:`~._hixie76_protocol.Hixie76Protocol` (legacy draft-76). The Trio
layer (``WebSocket``, its ``Writer``) is typed against :class:`ProtocolLike`,
so it drives either without knowing which one it has (docs/architecture.rst,
"The sans-I/O core").
"""

from __future__ import annotations

from typing import Protocol as TypingProtocol
from typing import TypeAlias

from ._buffers import EventEntry
from ._errors import RemoteProtocolError
from ._events import CloseReason, Event
from ._states import Role, State

__all__ = ["MessageData", "ProtocolLike"]

#: What send_fragment() takes: ``str`` for a text message, bytes-like for a
#: binary one.
MessageData: TypeAlias = str | bytes | bytearray | memoryview


class ProtocolLike(TypingProtocol):
    """A sans-I/O WebSocket protocol object: bytes in, events and bytes out.

    Members are read-only here (properties) so that plain attributes and
    properties both satisfy them. See :class:`~._protocol.Protocol` for what
    each one means; a variant documents where it differs (for example,
    draft-76 raises :class:`LocalProtocolError` from the commands its wire
    format cannot express).
    """

    @property
    def role(self) -> Role: ...

    @property
    def state(self) -> State: ...

    @property
    def close_received(self) -> CloseReason | None: ...

    @property
    def close_sent(self) -> CloseReason | None: ...

    @property
    def error(self) -> RemoteProtocolError | None: ...

    @property
    def pending_failure(self) -> RemoteProtocolError | None: ...

    @property
    def close_reason(self) -> CloseReason | None: ...

    @property
    def closes_transport_first(self) -> bool: ...

    @property
    def has_data_to_send(self) -> bool: ...

    @property
    def bytes_to_send(self) -> int: ...

    @property
    def sending_fragments(self) -> bool: ...

    # Counters for ws.statistics() (see Protocol's docstring).
    @property
    def frames_received(self) -> int: ...

    @property
    def frames_sent(self) -> int: ...

    @property
    def messages_received(self) -> int: ...

    @property
    def messages_sent(self) -> int: ...

    @property
    def bytes_received(self) -> int: ...

    @property
    def bytes_sent(self) -> int: ...

    @property
    def wire_bytes_received(self) -> int: ...

    @property
    def wire_bytes_sent(self) -> int: ...

    def events(self) -> list[Event]: ...

    def take_events(self) -> list[EventEntry]: ...

    def data_to_send(self) -> bytes: ...

    def data_to_send_pieces(self) -> list[bytes | memoryview]: ...

    def receive_data(self, data: bytes | bytearray | memoryview) -> None: ...

    def receive_buffer(self) -> memoryview | None: ...

    def received_into(self, count: int) -> None: ...

    def fail_pending(self) -> None: ...

    def choose_message_mode(self, *, stream: bool) -> None: ...

    def send_text(self, text: str, *, compress: bool | None = None) -> None: ...

    def send_binary(
        self, data: bytes | bytearray | memoryview, *, compress: bool | None = None
    ) -> None: ...

    def send_fragment(
        self, data: MessageData, *, final: bool, compress: bool | None = None
    ) -> None: ...

    def send_ping(self, payload: bytes = b"") -> None: ...

    def send_pong(self, payload: bytes = b"") -> None: ...

    def send_close(self, code: int | None = 1000, reason: str = "") -> None: ...
