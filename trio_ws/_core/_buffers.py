"""What both protocol classes share: the event list, the outgoing buffer and
the statistics counters (RFC 6455's ``Protocol`` and draft-76's)."""

from __future__ import annotations

from ._events import Event

__all__ = ["ProtocolBuffers"]


class ProtocolBuffers:
    """Events out, bytes out, and counters, for a sans-I/O protocol class.

    Subclasses append events to ``_events`` and frames with :meth:`_emit`.
    Counters (plain ints, never reset): ``frames_received``, ``frames_sent``,
    ``messages_received``, ``messages_sent``, ``bytes_sent`` (message payload
    bytes before compression), ``wire_bytes_received``, ``wire_bytes_sent``;
    each subclass provides ``bytes_received``.
    """

    __slots__ = (
        "_events",
        "_out",
        "_out_size",
        "bytes_sent",
        "frames_received",
        "frames_sent",
        "messages_received",
        "messages_sent",
        "wire_bytes_received",
        "wire_bytes_sent",
    )

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._out_size = 0
        self.frames_received = self.frames_sent = 0
        self.messages_received = self.messages_sent = 0
        self.bytes_sent = 0
        self.wire_bytes_received = self.wire_bytes_sent = 0

    def events(self) -> list[Event]:
        """Return the events produced since the last call, in wire order."""
        events = self._events
        if events:
            self._events = []
        return events

    @property
    def has_data_to_send(self) -> bool:
        """True when :meth:`data_to_send` would return bytes."""
        return bool(self._out)

    @property
    def bytes_to_send(self) -> int:
        """How many bytes :meth:`data_to_send` would return."""
        return self._out_size

    def data_to_send(self) -> bytes:
        """Return the bytes to write to the transport (b"" if none)."""
        out = self._out
        if not out:
            return b""
        self._out = []
        self.wire_bytes_sent += self._out_size
        self._out_size = 0
        return out[0] if len(out) == 1 else b"".join(out)

    def _emit(self, frame: bytes) -> None:
        # Queue one serialized frame for data_to_send().
        self.frames_sent += 1
        self._out.append(frame)
        self._out_size += len(frame)
