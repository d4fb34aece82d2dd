"""What both protocol classes share: the event list, the outgoing buffer and
the statistics counters (RFC 6455's ``Protocol`` and draft-76's)."""

from __future__ import annotations

from ._events import BinaryMessage, Event, TextMessage

__all__ = ["WRITE_PIECE", "EventEntry", "ProtocolBuffers", "as_event"]

#: An entry of a protocol's event list: an event, or a whole message as its
#: payload (``str``: a text message, ``bytes``: a binary one). Keeping a
#: message as its payload spares an event object per message on the Trio
#: layer's path (:meth:`ProtocolBuffers.take_events`); :meth:`events` wraps
#: it for everyone else.
EventEntry = Event | str | bytes

# data_to_send_pieces() hands payloads of at least this many bytes over
# apart from the rest: the first WRITE_PIECE bytes joined with what comes
# before them (their frame's header), the remainder as a view of the payload.
WRITE_PIECE = 65536


class ProtocolBuffers:
    """Events out, bytes out, and counters, for a sans-I/O protocol class.

    Subclasses append events (or a whole message's payload, see
    :data:`EventEntry`) to ``_events``, and frames with :meth:`_emit`.
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
        self._events: list[EventEntry] = []
        # Serialized frames; a large unmasked payload is an item of its own,
        # after its header (see _emit_apart).
        self._out: list[bytes | memoryview] = []
        self._out_size = 0
        self.frames_received = self.frames_sent = 0
        self.messages_received = self.messages_sent = 0
        self.bytes_sent = 0
        self.wire_bytes_received = self.wire_bytes_sent = 0

    def events(self) -> list[Event]:
        """Return the events produced since the last call, in wire order."""
        return [as_event(entry) for entry in self.take_events()]

    def take_events(self) -> list[EventEntry]:
        """Like :meth:`events`, with each whole message as its payload: a
        ``str`` for a :class:`TextMessage`, ``bytes`` for a
        :class:`BinaryMessage` (no event object per message)."""
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
        out = self._take_out()
        if len(out) == 1 and isinstance(out[0], bytes):
            return out[0]
        return b"".join(out)

    def data_to_send_pieces(self) -> list[bytes | memoryview]:
        """Like :meth:`data_to_send`, as a list of pieces to write in order.

        Small frames are joined into one piece; a payload of WRITE_PIECE
        bytes or more is not copied: its head goes with what precedes it (its
        header) and its remainder is a view of it. For a 1 MiB message that
        is a 1 MiB allocation and copy less per send.
        """
        small = self._out_size < WRITE_PIECE  # (then no item is large)
        out = self._take_out()
        if len(out) <= 1:
            return out
        if small:
            return [b"".join(out)]
        pieces: list[bytes | memoryview] = []
        run: list[bytes | memoryview] = []
        for item in out:
            if len(item) < WRITE_PIECE:
                run.append(item)
                continue
            view = memoryview(item)
            run.append(view[:WRITE_PIECE])
            pieces.append(b"".join(run))
            run = []
            if len(view) > WRITE_PIECE:
                pieces.append(view[WRITE_PIECE:])
        if run:
            pieces.append(run[0] if len(run) == 1 else b"".join(run))
        return pieces

    def _take_out(self) -> list[bytes | memoryview]:
        out = self._out
        if out:
            self._out = []
            self.wire_bytes_sent += self._out_size
            self._out_size = 0
        return out

    def _emit(self, frame: bytes) -> None:
        # Queue one serialized frame for data_to_send().
        self.frames_sent += 1
        self._out.append(frame)
        self._out_size += len(frame)

    def _emit_apart(self, header: bytes, payload: bytes | memoryview) -> None:
        # Queue one frame as its header and its (unmasked) payload, uncopied.
        self.frames_sent += 1
        self._out.append(header)
        self._out.append(payload)
        self._out_size += len(header) + len(payload)


def as_event(entry: EventEntry) -> Event:
    """The event an entry of :meth:`ProtocolBuffers.take_events` stands for."""
    if type(entry) is str:
        return TextMessage(entry)
    if type(entry) is bytes:
        return BinaryMessage(entry)
    return entry  # type: ignore[return-value]
