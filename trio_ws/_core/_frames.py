"""WebSocket frames: opcodes, close codes, the incremental parser, the serializer.

Wire layout (RFC 6455 5.2)::

    byte 0: FIN | RSV1 | RSV2 | RSV3 | opcode(4)
    byte 1: MASK | payload length (7)     126 -> 16-bit length follows,
                                          127 -> 64-bit length follows (MSB 0)
    [4-byte masking key if MASK]  payload

The parser is incremental: bytes may arrive split anywhere, one byte at a time
included. It parses frame headers itself and checks every rule that can be
checked without connection state (reserved opcodes, control frame size and
fragmentation, the 64-bit MSB, masking direction, the payload limit the caller
passes in). Rules that need state live above it: RSV bits vs. negotiated
extensions, continuation order and UTF-8 in :mod:`._assembler`, control
frames and closing in :mod:`._protocol`.
"""

from __future__ import annotations

import enum
import os
import struct
from typing import Final, final

from ._errors import RemoteProtocolError
from ._mask import mask, mask_in_place, mask_join, mask_slice, unmask_pieces_in_place
from ._pool import RECEIVE_POOL

__all__ = [
    "CloseCode",
    "Frame",
    "FrameParser",
    "Opcode",
    "build_frame",
    "is_sendable_close_code",
    "is_valid_received_close_code",
]

# RFC 6455 5.5: control frames carry at most 125 bytes of payload.
MAX_CONTROL_PAYLOAD = 125


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 5.2); 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 7.4.1 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005  # never on the wire
    ABNORMAL_CLOSURE = 1006  # never on the wire
    INVALID_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never on the wire


# RFC 6455 7.4.1/7.4.2 + IANA: the codes in 1000-2999 that may appear in a
# close frame. 1004 is reserved; 1005, 1006 and 1015 are for reporting only.
_WIRE_CODES_1000_2999 = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def is_sendable_close_code(code: int) -> bool:
    """Return True if ``code`` may be sent in a close frame.

    That is a code registered for use on the wire in 1000-2999, or any code in
    3000-4999 (registered libraries and private use, RFC 6455 7.4.2).
    """
    return code in _WIRE_CODES_1000_2999 or 3000 <= code <= 4999


# Receiving follows the same rule: anything else is a protocol error (1002).
is_valid_received_close_code = is_sendable_close_code

_CONTROL_OPCODES = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})
_KNOWN_OPCODES = {op.value: op for op in Opcode}

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")

# Frames with a payload of at least this many bytes are collected in pieces
# as they arrive (see FrameParser).
COLLECT_MIN = 256 << 10

# The pieces a collected payload is received into. Each new piece has room
# for as many bytes as have arrived so far (counting those about to be
# copied into it), rounded up to a power of two (the pool's size classes),
# at least _PIECE_MIN and at most _PIECE_MAX. So the memory taken ahead of
# the bytes received stays under twice their size (plus _PIECE_MIN),
# whatever length the header claims: a peer that sends a header and stalls
# costs 16 KiB. The pieces come from, and go back to, a process-wide pool
# (see _pool.py).
_PIECE_MIN = 16 << 10
_PIECE_MAX = 1 << 20

# Payloads over this size are unmasked by mask_slice() (straight out of the
# receive buffer) and masked in place in the frame being built, which saves
# a copy; smaller ones are cheapest through mask() (see _mask.py).
_UNMASK_IN_PLACE_MIN = 4096


@final
class Frame:
    """One WebSocket frame with its payload already unmasked (immutable).

    Attributes:
        opcode: the frame's :class:`Opcode`.
        payload: the (unmasked) payload.
        fin: True on the last frame of a message (always True on control
            frames).
        rsv1, rsv2, rsv3: the reserved bits; RSV1 marks a compressed message
            when permessage-deflate is negotiated (RFC 7692 6).
    """

    # A plain class with Final attributes rather than an attrs class: one is
    # made per frame received, and compiled (mypyc) it is a native class
    # whose attributes are read-only, built in ~30 ns where attrs' frozen
    # __init__ (object.__setattr__ per field) takes ~1 us.
    __slots__ = ("fin", "opcode", "payload", "rsv1", "rsv2", "rsv3")

    def __init__(
        self,
        opcode: Opcode,
        payload: bytes,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
    ) -> None:
        self.opcode: Final = opcode
        self.payload: Final = payload
        self.fin: Final = fin
        self.rsv1: Final = rsv1
        self.rsv2: Final = rsv2
        self.rsv3: Final = rsv3

    def _fields(self) -> tuple[Opcode, bytes, bool, bool, bool, bool]:
        return (self.opcode, self.payload, self.fin, self.rsv1, self.rsv2, self.rsv3)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"Frame(opcode={self.opcode!r}, payload={self.payload!r}, "
            f"fin={self.fin!r}, rsv1={self.rsv1!r}, rsv2={self.rsv2!r}, "
            f"rsv3={self.rsv3!r})"
        )


def build_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """Serialize one frame, header and payload in one ``bytes`` object.

    Args:
        opcode: the opcode.
        payload: the unmasked payload (bytes-like).
        fin: the FIN bit.
        rsv1: the RSV1 bit (set by permessage-deflate on a message's first frame).
        mask_key: 4 bytes to mask the payload with (clients must mask, RFC 6455
            5.1), or None for an unmasked frame (servers).

    Returns:
        The frame's bytes, with the shortest length encoding (RFC 6455 5.2).
    """
    length = len(payload)
    header = frame_header(
        opcode, length, fin=fin, rsv1=rsv1, masked=mask_key is not None
    )
    if mask_key is None:
        return header + payload
    if length > _UNMASK_IN_PLACE_MIN:
        # Mask inside the frame being built: one memory pass less.
        frame = bytearray(header + mask_key)
        frame += payload
        mask_in_place(frame, len(frame) - length, len(frame), mask_key)
        return bytes(frame)
    return header + mask_key + mask(payload, mask_key)


def frame_header(
    opcode: int, length: int, *, fin: bool = True, rsv1: bool = False, masked: bool
) -> bytes:
    """The header of a frame with a ``length``-byte payload, without the mask
    key (see :func:`build_frame`)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, mask_bit | length))
    if length < 0x10000:
        return bytes((first, mask_bit | 126)) + _U16.pack(length)
    return bytes((first, mask_bit | 127)) + _U64.pack(length)


def random_mask_key() -> bytes:
    """Return a fresh, unpredictable 4-byte masking key (RFC 6455 5.3)."""
    return os.urandom(4)


@final
class PendingFrame:
    """The header of a frame whose payload has not fully arrived yet."""

    __slots__ = ("fin", "length", "opcode", "rsv1")

    def __init__(self, opcode: Opcode, fin: bool, rsv1: bool, length: int) -> None:
        self.opcode: Final = opcode
        self.fin: Final = fin
        self.rsv1: Final = rsv1
        self.length: Final = length

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PendingFrame):
            return NotImplemented
        return (self.opcode, self.fin, self.rsv1, self.length) == (
            other.opcode,
            other.fin,
            other.rsv1,
            other.length,
        )

    def __hash__(self) -> int:
        return hash((self.opcode, self.fin, self.rsv1, self.length))

    def __repr__(self) -> str:
        return (
            f"PendingFrame(opcode={self.opcode!r}, fin={self.fin!r}, "
            f"rsv1={self.rsv1!r}, length={self.length!r})"
        )


def _piece_size(collected: int, arriving: int, length: int) -> int:
    # The next piece of a payload of ``length`` bytes: ``collected`` are in
    # the pieces already, ``arriving`` more are to be copied into this one.
    size = max(collected + 2 * arriving, _PIECE_MIN)
    size = min(size, _PIECE_MAX, length - collected)
    return 1 << (size - 1).bit_length()


class FrameParser:
    """Incremental frame parser.

    Feed bytes with :meth:`feed`, then call :meth:`next_frame` until it returns
    None. Each call may pass a different payload limit, so the caller can
    enforce a message size over several fragments *before* a large payload is
    buffered.

    The payload of a frame of COLLECT_MIN bytes or more is not gathered in
    the receive buffer: it goes into pieces allocated for it as it arrives
    (see _PIECE_MIN), and the pieces are unmasked and joined in one pass
    at the end (:func:`mask_join`). A caller that reads from a socket can
    even have the bytes land in those pieces directly
    (:meth:`receive_buffer` and :meth:`received_into`): from the kernel to
    the pieces is then one copy.
    Fresh large allocations are what costs most here (each new page is a page
    fault), then memory passes: a 1 MiB payload costs its pieces and the
    joined result, nothing more.

    Args:
        expect_masked: True on the server side (client frames must be masked),
            False on the client side (server frames must not be).
    """

    __slots__ = (
        "_buf",
        "_collected",
        "_expect_masked",
        "_header",
        "_piece_start",
        "_pieces",
        "_unmasked",
    )

    def __init__(self, *, expect_masked: bool) -> None:
        self._buf = bytearray()
        self._expect_masked = expect_masked
        # Header of the frame being received: (first byte, length, mask key,
        # header size) once parsed, until its payload is complete.
        self._header: tuple[int, int, bytes | None, int] | None = None
        # The pieces of a large frame's payload while it arrives (None
        # otherwise): all full but the last. How many payload bytes they hold
        # (still masked past the first ``_unmasked``: only peek_payload()
        # unmasks them early), and where in the payload the last one starts.
        self._pieces: list[bytearray] | None = None
        self._collected = 0
        self._unmasked = 0
        self._piece_start = 0

    @property
    def idle(self) -> bool:
        """True when nothing is buffered and no frame has begun (so
        :meth:`next_frame` would return None and :meth:`pending` too)."""
        return not self._buf and self._header is None

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet returned as frames."""
        return len(self._buf) + self._collected

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes to the parser's buffer."""
        if self._pieces is None:
            self._buf += data
            return
        with memoryview(data) as view:
            used = self._collect(view)
            if used < len(view):
                self._buf += view[used:]

    def receive_buffer(self) -> memoryview | None:
        """Where the next bytes of a large frame's payload go, while one arrives.

        Returns None when no payload is being collected (feed the bytes
        instead). Otherwise a writable view: write bytes read from the
        transport at its start, then call :meth:`received_into` with their
        count. The view ends where the frame does, so nothing that follows
        the frame lands in it.
        """
        return self._room(0)

    def _room(self, arriving: int) -> memoryview | None:
        # receive_buffer(), knowing that ``arriving`` bytes are to be copied in.
        pieces = self._pieces
        if pieces is None:
            return None
        header = self._header
        assert header is not None
        collected = self._collected
        if collected >= header[1]:
            return None  # complete: next_frame() returns it
        start = self._piece_start
        if not pieces or collected - start == len(pieces[-1]):
            size = _piece_size(collected, arriving, header[1])
            pieces.append(RECEIVE_POOL.take(size))
            self._piece_start = start = collected
        piece = pieces[-1]
        return memoryview(piece)[collected - start : min(len(piece), header[1] - start)]

    def received_into(self, count: int) -> None:
        """``count`` bytes were written at the start of receive_buffer()'s view."""
        # (The bytes stay masked: next_frame() unmasks them as it joins them.)
        self._collected += count

    def _collect(self, view: memoryview) -> int:
        # Copy the start of ``view`` into the pieces of the large frame's
        # payload; returns how many bytes it took (the rest follows the frame).
        used = 0
        while used < len(view):
            room = self._room(len(view) - used)
            if room is None:
                break
            with room:
                count = min(len(room), len(view) - used)
                room[:count] = view[used : used + count]
            self.received_into(count)
            used += count
        return used

    def next_frame(self, limit: int | None = None) -> Frame | None:
        """Return the next complete frame, or None if more bytes are needed.

        Args:
            limit: the largest payload accepted for this frame, or None for no
                limit; control frames are always limited to 125 bytes.

        Raises:
            RemoteProtocolError: the peer broke a framing rule (close code
                1002), or the payload is over ``limit`` (close code 1009). The
                check happens as soon as the header is complete.
        """
        header = self._header
        if header is None:
            header = self._parse_header(limit)
            if header is None:
                return None
        first, length, key, start = header
        pieces = self._pieces
        if pieces is not None:
            if self._collected < length:
                return None
            if key is not None:
                payload = mask_join(pieces, length, key, self._unmasked)
            else:
                used = length - self._piece_start  # (of the last piece)
                with memoryview(pieces[-1]) as last, last[:used] as tail:
                    payload = b"".join([*pieces[:-1], tail])
            RECEIVE_POOL.give(pieces)
            self._pieces = None
            self._collected = self._unmasked = self._piece_start = 0
        else:
            buf = self._buf
            end = start + length
            if len(buf) < end:
                if length >= COLLECT_MIN:
                    # From now on the payload's pieces go to a list.
                    self._pieces = []
                    with memoryview(buf) as view, view[start:] as rest:
                        self._collect(rest)
                    buf.clear()
                return None
            if length <= _UNMASK_IN_PLACE_MIN:
                # Small (nearly every frame): slicing costs less than a view.
                chunk = buf[start:end]
                payload = bytes(chunk) if key is None else mask(chunk, key)
            elif key is not None:
                payload = mask_slice(buf, start, end, key)  # one pass out
            else:
                with memoryview(buf) as view, view[start:end] as window:
                    payload = bytes(window)  # the one copy out of the buffer
            del buf[:end]
        self._header = None
        return Frame(
            _KNOWN_OPCODES[first & 0x0F],
            payload,
            bool(first & 0x80),
            bool(first & 0x40),
            bool(first & 0x20),
            bool(first & 0x10),
        )

    def pending(self) -> PendingFrame | None:
        """The header of the frame being received, if its payload is incomplete."""
        header = self._header
        if header is None:
            return None
        first = header[0]
        return PendingFrame(
            _KNOWN_OPCODES[first & 0x0F],
            bool(first & 0x80),
            bool(first & 0x40),
            header[1],
        )

    def peek_payload(self, start: int) -> bytes:
        """Unmasked payload of the pending frame received so far, from ``start``.

        Lets the protocol validate UTF-8 inside a frame that has not fully
        arrived (fail fast, RFC 6455 8.1).
        """
        header = self._header
        if header is None:
            return b""
        pieces = self._pieces
        if pieces is not None:
            # (Callers move ``start`` forward by what they got: this copies
            # and unmasks each byte once.)
            self._unmask_collected(header[2], pieces)
            tail: list[bytearray] = []
            begin = 0
            for piece in pieces:
                end = min(begin + len(piece), self._collected)
                if end > start:
                    tail.append(piece[max(start - begin, 0) : end - begin])
                begin += len(piece)
            return b"".join(tail)
        _first, length, key, offset = header
        available = min(len(self._buf) - offset, length)
        if available <= start:
            return b""
        chunk = bytes(self._buf[offset + start : offset + available])
        if key is None:
            return chunk
        rotation = start & 3
        return mask(chunk, key[rotation:] + key[:rotation])

    def _unmask_collected(self, key: bytes | None, pieces: list[bytearray]) -> None:
        # Unmask in place the bytes of the pieces still masked.
        if key is not None:
            unmask_pieces_in_place(pieces, self._unmasked, self._collected, key)
        self._unmasked = self._collected

    def _parse_header(
        self, limit: int | None
    ) -> tuple[int, int, bytes | None, int] | None:
        buf = self._buf
        size = len(buf)
        if size < 2:
            return None
        first = buf[0]
        second = buf[1]
        opcode = first & 0x0F
        if opcode not in _KNOWN_OPCODES:
            raise RemoteProtocolError(f"reserved opcode {opcode:#x}", 1002)
        length = second & 0x7F
        start = 2
        if length == 126:
            if size < 4:
                return None
            length = _U16.unpack_from(buf, 2)[0]
            start = 4
        elif length == 127:
            if size < 10:
                return None
            length = _U64.unpack_from(buf, 2)[0]
            # RFC 6455 5.2: the most significant bit of a 64-bit length is 0.
            if length >> 63:
                raise RemoteProtocolError("64-bit payload length has its MSB set", 1002)
            start = 10
        masked = bool(second & 0x80)
        if masked != self._expect_masked:
            # RFC 6455 5.1: clients mask every frame, servers never do.
            if masked:
                raise RemoteProtocolError("server sent a masked frame", 1002)
            raise RemoteProtocolError("client sent an unmasked frame", 1002)
        if opcode >= 0x8:
            # RFC 6455 5.5: control frames are short and never fragmented.
            if length > MAX_CONTROL_PAYLOAD:
                raise RemoteProtocolError(
                    f"control frame payload of {length} bytes (limit 125)", 1002
                )
            if not first & 0x80:
                raise RemoteProtocolError("fragmented control frame", 1002)
        elif limit is not None and length > limit:
            raise RemoteProtocolError(
                f"message exceeds the size limit ({length} bytes)", 1009
            )
        key: bytes | None = None
        if masked:
            if size < start + 4:
                return None
            key = bytes(buf[start : start + 4])
            start += 4
        header = (first, length, key, start)
        self._header = header
        return header
