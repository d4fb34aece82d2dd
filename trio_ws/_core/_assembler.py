"""Whole-message assembly: data frames in, text and binary messages out.

A layer on top of the frame parser, used by :class:`~._protocol.Protocol`::

    assembler = MessageAssembler(max_message_size=1 << 20, extension=None)
    limit = assembler.frame_limit()              # for FrameParser.next_frame()
    message = assembler.receive_frame(frame)     # str, bytes, MessageChunk, None
    assembler.validate_pending(parser)           # fail fast on a partial frame

It applies the rules that need the state of the message being received:
fragmentation order (RFC 6455 5.4), reserved bits on data frames (RFC 6455
5.2, RFC 7692 6), the size and fragment-count limits, inflating compressed
messages (RFC 7692 7.2.2) and incremental UTF-8 validation of text (RFC 6455
5.6, 8.1). Control frames never reach it: the protocol handles them, also in
the middle of a fragmented message (RFC 6455 5.4). Keeping this apart from
the parser and the state machine leaves room for a streaming receiver that
takes data frames one by one instead of whole messages.

Every violation raises :class:`RemoteProtocolError` with the close code the
connection must be failed with (1002, 1007 or 1009); the assembler is of no
further use after that.
"""

from __future__ import annotations

import codecs

from ._deflate import PerMessageDeflate
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import MessageChunk
from ._frames import Frame, FrameParser, Opcode

__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MessageAssembler",
]

# Largest message (after reassembly) accepted by default: 1 MiB. Bigger ones
# fail the connection with 1009 as soon as a frame header announces them.
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20

# Most frames one message may be split into, counting its first frame. Sizes
# already bound memory; this bounds the CPU a peer can burn with endless tiny
# or empty fragments (each frame costs CPU to parse). 131,072 lets a 4 MiB
# message arrive in 64-byte fragments with room to spare: Autobahn 9.3.1 and
# 9.4.1 send an empty first frame and then 65,536 continuation frames, 65,537
# frames in all (the old default of 65,536 failed them with 1009).
DEFAULT_MAX_FRAGMENTS = 1 << 17

# Text is assembled from the pieces each fragment decodes to. A str costs
# ~50-80 bytes however short, so a message sent in 1-byte fragments took ~30x
# its size as a list of pieces (measured: 11 MB for 393 KB of CJK text in
# 131,072 fragments). Every this many pieces are joined into one: the list
# then holds an entry per 64 fragments at most, for one more copy of the text.
JOIN_TEXT_PIECES = 64

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


def _utf8_error(exc: UnicodeDecodeError) -> RemoteProtocolError:
    # RFC 6455 8.1: text must be valid UTF-8; invalid data fails with 1007.
    return RemoteProtocolError(f"invalid UTF-8 in a text message: {exc}", 1007)


class MessageAssembler:
    """Reassembles the data frames of one connection's incoming messages.

    Args:
        max_message_size: largest message accepted, in bytes (None: no
            limit). A bigger one raises 1009 before its payload is buffered
            (see :meth:`frame_limit`), or, when compressed, as soon as
            inflating passes the limit.
        max_fragments: most frames a single message may span, its first
            frame included (None: no limit); more raises 1009.
        extension: the negotiated permessage-deflate state (RFC 7692), or
            None. With it, RSV1 on a message's first frame means the message
            is compressed.

    ``max_message_size``, ``max_fragments`` and ``extension`` are plain
    attributes; change them between messages.

    Set :attr:`streaming` to True before the first frame of a message to
    receive it frame by frame: each data frame then gives a
    :class:`MessageChunk`, ``max_message_size`` limits each frame (inflated)
    instead of the whole message, and ``max_fragments`` still applies. It
    goes back to False when the message ends.
    """

    __slots__ = (
        "_binary",
        "_compressed",
        "_fragments",
        "_joined",
        "_opcode",
        "_peeked",
        "_size",
        "_text",
        "_utf8",
        "_wire",
        "bytes_received",
        "extension",
        "max_fragments",
        "max_message_size",
        "streaming",
    )

    def __init__(
        self,
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: int | None = DEFAULT_MAX_FRAGMENTS,
        extension: PerMessageDeflate | None = None,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        self.extension = extension
        # Message being reassembled from fragments (RFC 6455 5.4).
        self._opcode: Opcode | None = None
        self._binary = bytearray()
        self._text: list[str] = []
        self._joined = 0  # entries of _text already joined (JOIN_TEXT_PIECES)
        self._size = 0  # bytes delivered so far (inflated)
        self._wire = 0  # payload bytes received so far (maybe compressed)
        self._compressed = False
        self._fragments = 0
        self._utf8: codecs.IncrementalDecoder | None = None
        # Bytes of the frame being received already fed to the UTF-8 decoder.
        self._peeked = 0
        #: Whether the message being received is streamed (see the class doc).
        self.streaming = False
        #: Payload bytes of data frames taken so far (inflated), for statistics.
        self.bytes_received = 0

    def frame_limit(self) -> int | None:
        """The largest payload the next data frame may have (None: no limit).

        Pass it to :meth:`FrameParser.next_frame`, so that a frame announcing
        too much fails (1009) from its header, before its payload is buffered.
        """
        limit = self.max_message_size
        if limit is None:
            return None
        # A streamed message is limited frame by frame, not in total.
        size, wire = (0, 0) if self.streaming else (self._size, self._wire)
        if self.extension is None:
            return limit - size
        # A compressed payload can be larger than what it inflates to: zlib's
        # deflateBound() for non-default settings allows ~14% (n/8 + n/64).
        # The inflated size is checked exactly by the decompressor, the size
        # of an uncompressed message by _check_size().
        return limit + (limit >> 3) + (limit >> 6) + 64 - wire

    def receive_frame(self, frame: Frame) -> str | bytes | MessageChunk | None:
        """Take one data frame (TEXT, BINARY or CONTINUATION), in wire order.

        Returns:
            The message this frame completes, as its payload (``str`` for
            text, ``bytes`` for binary; the protocol's :meth:`events` wraps
            it in a TextMessage or BinaryMessage), or None while a
            fragmented message is still open; when :attr:`streaming`, the frame's
            :class:`MessageChunk`.

        Raises:
            RemoteProtocolError: the peer broke a rule: fragmentation order or
                reserved bits (close code 1002), invalid UTF-8 or compressed
                data (1007), size or fragment limit (1009).
            LocalProtocolError: ``frame`` is a control frame.
        """
        opcode = frame.opcode
        payload = frame.payload
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._check_rsv(frame)
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if self._opcode is not None:
                # RFC 6455 5.4: fragments of different messages never mix.
                raise RemoteProtocolError(
                    "new data frame while a fragmented message is open"
                )
            extension = self.extension
            if frame.rsv1:
                assert extension is not None  # checked by _check_rsv
                extension.start_message(self.max_message_size)
                payload = extension.decompress(payload, final=frame.fin)
                self._compressed = True
            elif extension is not None:
                self._check_size(len(payload))
            if frame.fin and not self.streaming:
                # The common case: a whole message in one frame.
                self._compressed = False
                self.bytes_received += len(payload)
                if opcode is Opcode.BINARY:
                    return payload
                if self._peeked:
                    return self._finish_peeked_text(payload)
                try:
                    return payload.decode()
                except UnicodeDecodeError as exc:
                    raise _utf8_error(exc) from exc
            self._opcode = opcode
            self._wire = len(frame.payload)
            if opcode is Opcode.TEXT and self._utf8 is None:
                # (A decoder may exist already if this frame was peeked at.)
                self._utf8 = _Utf8Decoder()
            # (fin is set here only on a streamed single-frame message.)
            return self._add_fragment(payload, final=frame.fin)
        if opcode is Opcode.CONTINUATION:
            if self._opcode is None:
                raise RemoteProtocolError(
                    "continuation frame without a message in progress"
                )
            self._wire += len(payload)
            if self._compressed:
                assert self.extension is not None
                if self.streaming:
                    self.extension.renew_budget(self.max_message_size)
                payload = self.extension.decompress(payload, final=frame.fin)
            elif self.extension is not None:
                self._check_size(len(payload) + (0 if self.streaming else self._size))
            return self._add_fragment(payload, final=frame.fin)
        raise LocalProtocolError(f"{opcode.name} is not a data frame")

    @property
    def in_message(self) -> bool:
        """True while a fragmented message is partly received."""
        return self._opcode is not None

    def check_reserved_bits(self, frame: Frame) -> None:
        """Raise :class:`RemoteProtocolError` (1002) if ``frame``, a data
        frame, has reserved bits that nothing negotiated (RFC 6455 5.2)."""
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._check_rsv(frame)

    def validate_pending(self, parser: FrameParser) -> None:
        """Fail fast on bad UTF-8 in a text frame still arriving (RFC 6455 8.1).

        Call it when ``parser`` has no complete frame left: the part of the
        pending frame's payload received so far is fed to the UTF-8 decoder
        (once; :meth:`receive_frame` skips what was already checked).

        Raises:
            RemoteProtocolError: close code 1007 on the first invalid byte.
        """
        pending = parser.pending()
        if pending is None:
            return
        opcode = pending.opcode
        if opcode is Opcode.TEXT:
            if self._opcode is not None or pending.rsv1:
                return  # the frame itself is invalid; it fails once complete
        elif (
            opcode is not Opcode.CONTINUATION
            or self._opcode is not Opcode.TEXT
            or self._compressed
        ):
            return  # only uncompressed text payloads can be checked early
        chunk = parser.peek_payload(self._peeked)
        if not chunk:
            return
        self._peeked += len(chunk)
        decoder = self._utf8
        if decoder is None:
            decoder = self._utf8 = _Utf8Decoder()
        try:
            piece = decoder.decode(chunk, False)
        except UnicodeDecodeError as exc:
            raise _utf8_error(exc) from exc
        if piece:
            self._append_text(piece)

    # ----------------------------------------------------------------- helpers

    def _check_rsv(self, frame: Frame) -> None:
        # RFC 6455 5.2: non-zero RSV bits need a negotiated extension; RFC 7692
        # 6: permessage-deflate uses RSV1, on the first frame of a message only.
        if frame.rsv2 or frame.rsv3 or self.extension is None:
            raise RemoteProtocolError(
                "reserved bits set without a negotiated extension"
            )
        if frame.opcode is Opcode.CONTINUATION:
            raise RemoteProtocolError("RSV1 set on a continuation frame")

    def _check_size(self, size: int) -> None:
        limit = self.max_message_size
        if limit is not None and size > limit:
            raise RemoteProtocolError(
                f"message exceeds the size limit ({size} bytes)", 1009
            )

    def _finish_peeked_text(self, payload: bytes) -> str:
        # A single-frame text message whose start validate_pending() already
        # decoded while the frame arrived: decode only the rest.
        peeked = self._peeked
        self._peeked = 0
        decoder = self._utf8
        assert decoder is not None
        self._utf8 = None
        try:
            text = decoder.decode(payload[peeked:], True)
        except UnicodeDecodeError as exc:
            raise _utf8_error(exc) from exc
        return self._take_text() + text

    def _add_fragment(
        self, payload: bytes, *, final: bool
    ) -> str | bytes | MessageChunk | None:
        self._fragments += 1
        if self.max_fragments is not None and self._fragments > self.max_fragments:
            raise RemoteProtocolError(
                f"message split into more than {self.max_fragments} fragments", 1009
            )
        self._size += len(payload)
        self.bytes_received += len(payload)
        decoder = self._utf8
        if decoder is not None:
            peeked = self._peeked
            self._peeked = 0
            try:
                piece = decoder.decode(payload[peeked:] if peeked else payload, final)
            except UnicodeDecodeError as exc:
                raise _utf8_error(exc) from exc
            if piece:
                self._append_text(piece)
        elif self.streaming:
            return self._chunk(bytes(payload), final)
        else:
            self._binary += payload
        if self.streaming:
            text = self._take_text()
            return self._chunk(text, final)
        if final:
            return self._finish_message()
        return None

    def _chunk(self, data: str | bytes, final: bool) -> MessageChunk:
        if final:
            self._reset()
        return MessageChunk(data, final)

    def _append_text(self, piece: str) -> None:
        text = self._text
        text.append(piece)
        joined = self._joined
        if len(text) - joined >= JOIN_TEXT_PIECES:
            text[joined:] = ["".join(text[joined:])]
            self._joined = joined + 1

    def _take_text(self) -> str:
        text = "".join(self._text)
        self._text.clear()
        self._joined = 0
        return text

    def _finish_message(self) -> str | bytes:
        message: str | bytes
        if self._opcode is Opcode.TEXT:
            message = self._take_text()
        else:
            message = bytes(self._binary)
            self._binary = bytearray()
        self._reset()
        return message

    def _reset(self) -> None:
        # Ready for the next message.
        self._utf8 = None
        self._opcode = None
        self._size = 0
        self._wire = 0
        self._compressed = False
        self._fragments = 0
        self.streaming = False
