"""Legacy draft-76 ("hixie-76") framing: the protocol object, sans-I/O.

Wire format (draft-hixie-thewebsocketprotocol-76 4.2 and 5.3)::

    0x00 <UTF-8 text> 0xFF          a text message (the only message type)
    0xFF 0x00                       the closing handshake, both ways (1.4)
    <type, high bit clear> ... 0xFF         other sentinel frames: discarded
    <type, high bit set> <length> <bytes>   other length-prefixed frames:
                                            discarded; the length is 7 bits
                                            per byte, big-endian, the high
                                            bit saying "more bytes follow"

There is no masking, no binary message, no fragmentation, no ping, no pong
and no close code. :class:`Hixie76Protocol` offers the same interface as the
RFC 6455 :class:`~._protocol.Protocol` (see :mod:`._interface`) and emits
the same events (:class:`TextMessage`, :class:`CloseReceived`,
:class:`ProtocolFailure`, :class:`ConnectionLost`), so the Trio layer drives
it unchanged. Where draft-76 has nothing to match:

- ``send_binary``, ``send_fragment``, ``send_ping`` and ``send_pong`` raise
  :class:`LocalProtocolError`; no :class:`MessageStart` is ever emitted, so
  ``choose_message_mode`` is never due (it raises, as the RFC 6455 one does
  when nothing waits).
- Close codes exist only locally. The peer's 0xFF 0x00 is reported as 1000
  (a clean close); ``send_close(code, reason)`` checks its arguments as RFC
  6455 would and records them in ``close_sent``, but sends 0xFF 0x00 only.
- Failing the connection (a message over the size limit: 1009; invalid
  UTF-8: 1007) sends nothing: draft-76 fails a connection by closing TCP
  (5.3, 6). The error's code is what ``close_reason`` reports.

Choices where the draft leaves room, both allowed by its text:

- Frames of other types are read and discarded, as 4.2 and 5.3 say, but
  never buffered, and their length counts against ``max_message_size`` like
  a message's: an oversized one fails the connection with 1009.
- Invalid UTF-8 fails the connection with 1007 on the first bad byte
  (5.4 leaves the behaviour to the server), as the RFC 6455 side does.
"""

from __future__ import annotations

import codecs
import enum

from ._assembler import DEFAULT_MAX_MESSAGE_SIZE
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import CloseReason
from ._interface import MessageData
from ._lifecycle import ProtocolLifecycle
from ._states import Role

__all__ = ["CLOSE_FRAME", "MAX_FRAME_LENGTH", "Hixie76Protocol"]

# draft-76 1.4: the closing handshake frame, sent both ways.
CLOSE_FRAME = b"\xff\x00"

# Largest length-prefixed frame accepted when there is no message size limit
# (max_message_size=None): the length field is unbounded in draft-76, so cap
# it where RFC 6455 caps its own (a 63-bit length) and fail with 1009 beyond.
# Only a counter grows: discarded bytes are never buffered.
MAX_FRAME_LENGTH = 2**63 - 1

_TEXT_START = 0x00
_SENTINEL = 0xFF
_LENGTH_PREFIXED = 0x80  # the frame type's high bit (draft-76 5.3)

_CLEAN_CLOSE = CloseReason(1000)

_NO_BINARY = (
    "draft-76 (hixie-76) connections carry text only: there are no binary "
    "messages; send str"
)


class _Mode(enum.Enum):
    """Where the parser is within a frame."""

    TYPE = "type"  # expecting a frame type byte
    TEXT = "text"  # inside 0x00 ... 0xFF, keeping the bytes
    SKIP_TO_SENTINEL = "skip_to_sentinel"  # inside another sentinel frame
    LENGTH = "length"  # reading a length-prefixed frame's length bytes
    SKIP_LENGTH = "skip_length"  # discarding a length-prefixed frame's bytes


def _utf8_error(exc: UnicodeDecodeError) -> RemoteProtocolError:
    error = RemoteProtocolError("text message is not valid UTF-8", 1007)
    error.__cause__ = exc
    return error


class Hixie76Protocol(ProtocolLifecycle):
    """One draft-76 connection's protocol state, free of any I/O.

    Args:
        role: which end this is. The framing is the same both ways (no
            masking); trio_ws only uses :attr:`Role.SERVER`, tests use both.
        max_message_size: largest text message accepted, in UTF-8 bytes
            (None: no limit). A bigger one fails the connection (1009) as
            soon as the limit is passed, without buffering the rest.
        defer_failure: hold a peer fault in :attr:`pending_failure` until
            :meth:`fail_pending` (as :class:`~._protocol.Protocol` does).

    See the module docstring for what differs from RFC 6455. The statistics
    counters are those of :class:`~._protocol.Protocol`; every frame counts,
    the discarded ones and the closing 0xFF 0x00 included. The state, the
    closing handshake and failing the connection are RFC 6455's, from
    :class:`~._lifecycle.ProtocolLifecycle`; ``close_received`` is
    CloseReason(1000) once the peer's 0xFF 0x00 arrived, ``close_sent`` the
    code and reason given to send_close() (or 1000 when we answered the
    peer's close), which are not sent.
    """

    __slots__ = (
        "_decoder",
        "_length",
        "_mode",
        "_parts",
        "_size",
        "_type",
        "bytes_received",
        "max_message_size",
    )

    def __init__(
        self,
        role: Role,
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        defer_failure: bool = False,
    ) -> None:
        super().__init__(role, defer_failure=defer_failure)
        #: Largest text message accepted, in bytes (None: no limit).
        self.max_message_size = max_message_size
        # Parser state: the current frame's type, mode, byte count (text and
        # skipped sentinel frames) or remaining length (length-prefixed).
        self._mode = _Mode.TYPE
        self._type = 0
        self._size = 0
        self._length = 0
        # The text message being received, decoded as it arrives.
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._parts: list[str] = []
        self.bytes_received = 0

    # ------------------------------------------------------------------ output

    @property
    def sending_fragments(self) -> bool:
        """Always False: draft-76 cannot send a message in fragments."""
        return False

    # ---------------------------------------------------------------- commands

    def send_text(self, text: str, *, compress: bool | None = None) -> None:
        """Queue a text message: 0x00, its UTF-8, 0xFF.

        Args:
            compress: accepted for interface compatibility and ignored
                (draft-76 has no extensions).
        """
        self._check_can_send("send a message")
        payload = text.encode()
        self.messages_sent += 1
        self.bytes_sent += len(payload)
        self._emit(b"\x00" + payload + b"\xff")

    def send_binary(
        self, data: bytes | bytearray | memoryview, *, compress: bool | None = None
    ) -> None:
        """Always raises: draft-76 has no binary messages.

        Raises:
            LocalProtocolError: always (or because the connection is closed).
        """
        self._check_can_send("send a message")
        raise LocalProtocolError(_NO_BINARY)

    def send_fragment(
        self, data: MessageData, *, final: bool, compress: bool | None = None
    ) -> None:
        """Always raises: draft-76 cannot send a message in fragments.

        (A text frame could be written in pieces, but a close or a failure
        before its 0xFF would make the peer take the piece as a whole
        message; there is no way to abandon a message on the wire.)

        Raises:
            LocalProtocolError: always.
        """
        self._check_can_send("send a message")
        raise LocalProtocolError(
            "draft-76 (hixie-76) connections cannot send a message in "
            "fragments; send one str"
        )

    def send_ping(self, payload: bytes = b"") -> None:
        """Always raises: draft-76 has no pings.

        Raises:
            LocalProtocolError: always.
        """
        self._check_can_send("send a ping")
        raise LocalProtocolError("draft-76 (hixie-76) connections have no pings")

    def send_pong(self, payload: bytes = b"") -> None:
        """Always raises: draft-76 has no pongs.

        Raises:
            LocalProtocolError: always.
        """
        self._check_can_send("send a pong")
        raise LocalProtocolError("draft-76 (hixie-76) connections have no pongs")

    # ------------------------------------------------------------------- input

    def receive_buffer(self) -> None:
        """Always None: draft-76 frames have no length up front to read into."""
        return None

    def received_into(self, count: int) -> None:
        """Always raises: :meth:`receive_buffer` never gives a view."""
        raise LocalProtocolError("draft-76 reads go through receive_data()")

    def choose_message_mode(self, *, stream: bool) -> None:
        """Always raises: no :class:`MessageStart` ever waits for a mode.

        Raises:
            LocalProtocolError: always.
        """
        raise LocalProtocolError("no fragmented message waits for a mode")

    def _receive_bytes(self, data: bytes | bytearray | memoryview) -> None:
        self._parse(bytes(data))

    def _parse(self, data: bytes) -> None:
        # draft-76 5.3 (server) and 4.2 (client) read frames the same way.
        position = 0
        end = len(data)
        limit = self.max_message_size
        while position < end and not self._closed():
            mode = self._mode
            if mode is _Mode.TYPE:
                frame_type = self._type = data[position]
                position += 1
                if frame_type & _LENGTH_PREFIXED:
                    self._mode = _Mode.LENGTH
                    self._length = 0
                else:
                    text = frame_type == _TEXT_START
                    self._mode = _Mode.TEXT if text else _Mode.SKIP_TO_SENTINEL
                    self._size = 0
            elif mode is _Mode.LENGTH:
                byte = data[position]
                position += 1
                # 7 bits per byte, most significant first; the high bit says
                # another length byte follows.
                self._length = self._length * 128 + (byte & 0x7F)
                bound = MAX_FRAME_LENGTH if limit is None else limit
                if self._length > bound:
                    raise RemoteProtocolError(f"frame of more than {bound} bytes", 1009)
                if not byte & 0x80:
                    self._end_length()
            elif mode is _Mode.SKIP_LENGTH:
                taken = min(self._length, end - position)
                position += taken
                self._length -= taken
                if not self._length:
                    self._mode = _Mode.TYPE
                    self.frames_received += 1
            else:
                position = self._sentinel_data(data, position, limit)

    def _end_length(self) -> None:
        if self._length:
            self._mode = _Mode.SKIP_LENGTH  # read and discard (5.3)
            return
        self._mode = _Mode.TYPE
        self.frames_received += 1
        if self._type == _SENTINEL:
            # 0xFF 0x00 (1.4, 5.3): the peer closes; our answer has no code.
            self._receive_close(_CLEAN_CLOSE, b"")
        # Any other empty length-prefixed frame is discarded (5.3).

    def _sentinel_data(self, data: bytes, position: int, limit: int | None) -> int:
        # Bytes up to the next 0xFF belong to the current frame; 0xFF is
        # never part of UTF-8, so the text needs no escaping.
        stop = data.find(_SENTINEL, position)
        chunk_end = len(data) if stop == -1 else stop
        self._size += chunk_end - position
        if limit is not None and self._size > limit:
            raise RemoteProtocolError(f"message of more than {limit} bytes", 1009)
        text = self._mode is _Mode.TEXT
        if text and chunk_end > position:
            try:
                self._parts.append(self._decoder.decode(data[position:chunk_end]))
            except UnicodeDecodeError as exc:
                raise _utf8_error(exc) from exc
        if stop == -1:
            return chunk_end
        self._mode = _Mode.TYPE
        self.frames_received += 1
        if text:
            try:
                self._parts.append(self._decoder.decode(b"", final=True))
            except UnicodeDecodeError as exc:  # ends inside a character
                raise _utf8_error(exc) from exc
            self.messages_received += 1
            self.bytes_received += self._size
            self._events.append("".join(self._parts))  # a TextMessage (see EventEntry)
            self._parts = []
            self._decoder.reset()
        return stop + 1

    def _queue_close(self, payload: bytes) -> None:
        # draft-76 1.4: the close frame is always 0xFF 0x00; no code, no reason.
        self._emit(CLOSE_FRAME)

    def _on_fail(self, code: int) -> None:
        # draft-76 6: failing the connection is closing TCP; no frame is sent.
        self._parts = []
