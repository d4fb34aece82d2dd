"""What both protocol classes share: the event list, the outgoing buffer and
the statistics counters (RFC 6455's ``Protocol`` and draft-76's)."""

from __future__ import annotations

from ._events import Event

__all__ = ["WRITE_PIECE", "ProtocolBuffers"]

# data_to_send_pieces() hands payloads of at least this many bytes over
# apart from the rest: the first WRITE_PIECE bytes joined with what comes
# before them (their frame's header), the remainder as a view of the payload.
WRITE_PIECE = 65536


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
