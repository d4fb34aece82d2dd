"""The WebSocket protocol state machine (sans-I/O).

Bytes in, events out; commands in, bytes out::

    proto = Protocol(Role.SERVER)
    proto.receive_data(data)          # b"" signals end-of-file
    for event in proto.events(): ...  # TextMessage, BinaryMessage, Ping, ...
    transport.write(proto.data_to_send())
    proto.send_text("hi")

The protocol answers pings with pongs and echoes the peer's close frame by
itself; data frames go to a :class:`~._assembler.MessageAssembler`, which
turns them into whole messages. A peer fault never raises out of
:meth:`Protocol.receive_data`: the protocol queues a close frame with the
right code, records the :class:`RemoteProtocolError` in
:attr:`Protocol.error` and emits :class:`ProtocolFailure`. Calls the state
forbids raise :class:`LocalProtocolError`.

States and transitions are the table ``TRANSITIONS`` (closing handshake, RFC
6455 7.1); the lifecycle around the framing (state, closing handshake,
failure, end-of-file) is :class:`~._lifecycle.ProtocolLifecycle`, shared with
draft-76.
"""

from __future__ import annotations

from ._assembler import (
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageAssembler,
)
from ._buffers import WRITE_PIECE
from ._deflate import PerMessageDeflate
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import MessageChunk, MessageStart, Ping, Pong, make_close_reason
from ._frames import (
    MAX_CONTROL_PAYLOAD,
    Frame,
    FrameParser,
    Opcode,
    build_frame,
    frame_header,
    is_valid_received_close_code,
    random_mask_key,
)
from ._interface import MessageData
from ._lifecycle import CLOSE_CODE, ProtocolLifecycle
from ._states import TRANSITIONS, Role, State
from ._states import _Input as _Input  # (re-exported: tests walk the table)

__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_UNSENT_PONGS",
    "TRANSITIONS",
    "Protocol",
    "Role",
    "State",
]

# DEFAULT_MAX_MESSAGE_SIZE and DEFAULT_MAX_FRAGMENTS (re-exported above) are
# explained where they apply, in _assembler.py.

# RFC 6455 5.5.3: an endpoint that has not yet sent the pongs for earlier
# pings MAY answer only the most recent one. Up to this many pongs wait in
# the outgoing buffer; beyond, each new ping's pong replaces the last unsent
# one. A peer that floods pings while not reading (so that nothing can be
# written) thus grows the buffer by at most 64 x 127 bytes, where it used to
# grow by one pong per ping. 64 still answers every ping of an ordinary burst
# (Autobahn 2.10 sends 10 at once).
MAX_UNSENT_PONGS = 64


class Protocol(ProtocolLifecycle):
    """One WebSocket connection's protocol state, free of any I/O.

    Args:
        role: :attr:`Role.CLIENT` masks outgoing frames and requires unmasked
            incoming ones; :attr:`Role.SERVER` the reverse (RFC 6455 5.1).
        max_message_size: largest message accepted, in bytes (None: no limit).
            A bigger one fails the connection with 1009 before its payload is
            buffered.
        max_fragments: most frames a single message may span (None: no limit);
            more fails the connection with 1009.
        defer_failure: when True, a peer fault does not fail the connection
            at once: it is held in :attr:`pending_failure` (later input is
            ignored, sending still works) until :meth:`fail_pending` is
            called. This lets the I/O layer have the application handle the
            messages that arrived before the fault first, so that replies go
            out in wire order (RFC 6455 7.1.7 allows either; Autobahn's strict
            mode wants this one).
        extension: the negotiated permessage-deflate state (RFC 7692), or
            None. With it, RSV1 on a message's first frame means the message
            is compressed; inflating is bounded by ``max_message_size``.
        pause_fragmented: when True, the first frame of a message that spans
            several frames stops parsing with a :class:`MessageStart` event
            until :meth:`choose_message_mode` says whether to assemble the
            message whole or to stream it as :class:`MessageChunk` events.
            Do not feed data while :attr:`paused`.

    Counters for statistics (plain ints, never reset): ``frames_received``,
    ``frames_sent``, ``messages_received``, ``messages_sent``,
    ``bytes_received`` and ``bytes_sent`` (message payload bytes: inflated,
    before compression), ``wire_bytes_received`` and ``wire_bytes_sent``.

    ``max_message_size``, ``max_fragments`` and ``extension`` can also be set
    after construction; change them between messages.

    The state and the closing handshake's attributes (``role``, ``state``,
    ``close_received``, ``close_sent``, ``error``, ``pending_failure``,
    ``close_reason``, ``closes_transport_first``), :meth:`send_close` and
    :meth:`fail_pending` come from :class:`~._lifecycle.ProtocolLifecycle`.
    """

    __slots__ = (
        "_assembler",
        "_held",
        "_is_client",
        "_last_pong",
        "_last_pong_frame",
        "_parser",
        "_pause_fragmented",
        "_sending",
        "_sending_compressed",
        "_unsent_pongs",
    )

    def __init__(
        self,
        role: Role,
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: int | None = DEFAULT_MAX_FRAGMENTS,
        defer_failure: bool = False,
        extension: PerMessageDeflate | None = None,
        pause_fragmented: bool = False,
    ) -> None:
        super().__init__(role, defer_failure=defer_failure)
        self._is_client = role is Role.CLIENT
        self._parser = FrameParser(expect_masked=not self._is_client)
        # Pongs waiting in the outgoing buffer, and the last one's index and
        # frame (see MAX_UNSENT_PONGS and _queue_pong).
        self._unsent_pongs = 0
        self._last_pong = 0
        self._last_pong_frame: bytes | None = None
        # Data frames -> messages; it owns the limits and the extension.
        self._assembler = MessageAssembler(
            max_message_size=max_message_size,
            max_fragments=max_fragments,
            extension=extension,
        )
        self._pause_fragmented = pause_fragmented
        # The first frame of a fragmented message, held while paused.
        self._held: Frame | None = None
        # The message being sent in fragments: its opcode, and whether its
        # fragments are compressed.
        self._sending: Opcode | None = None
        self._sending_compressed = False

    # ----------------------------------------------------------- configuration

    @property
    def max_message_size(self) -> int | None:
        """Largest message accepted, in bytes (None: no limit)."""
        return self._assembler.max_message_size

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        self._assembler.max_message_size = value

    @property
    def max_fragments(self) -> int | None:
        """Most frames a single message may span (None: no limit)."""
        return self._assembler.max_fragments

    @max_fragments.setter
    def max_fragments(self, value: int | None) -> None:
        self._assembler.max_fragments = value

    @property
    def extension(self) -> PerMessageDeflate | None:
        """The negotiated permessage-deflate state, or None."""
        return self._assembler.extension

    @extension.setter
    def extension(self, value: PerMessageDeflate | None) -> None:
        self._assembler.extension = value

    @property
    def bytes_received(self) -> int:
        """Payload bytes of the data frames received (inflated)."""
        return self._assembler.bytes_received

    @property
    def sending_fragments(self) -> bool:
        """True between the first and the final :meth:`send_fragment`."""
        return self._sending is not None

    @property
    def paused(self) -> bool:
        """True while a :class:`MessageStart` waits for choose_message_mode()."""
        return self._held is not None

    # ---------------------------------------------------------------- commands

    def send_text(self, text: str, *, compress: bool | None = None) -> None:
        """Queue a text message (one frame).

        Args:
            compress: with permessage-deflate negotiated, None compresses
                messages at or over the threshold, False sends this one as
                is (already compressed data), True compresses it regardless
                of size. Without the extension messages go uncompressed.
        """
        self._check_can_send_message()
        self._queue_message(Opcode.TEXT, text.encode(), compress)

    def send_binary(
        self, data: bytes | bytearray | memoryview, *, compress: bool | None = None
    ) -> None:
        """Queue a binary message (one frame); ``compress`` as for send_text()."""
        self._check_can_send_message()
        self._queue_message(
            Opcode.BINARY, data if isinstance(data, bytes) else bytes(data), compress
        )

    def _queue_message(
        self, opcode: Opcode, payload: bytes, compress: bool | None
    ) -> None:
        self.messages_sent += 1
        self.bytes_sent += len(payload)
        ext = self._assembler.extension
        if ext is not None and (
            ext.should_compress(len(payload)) if compress is None else compress
        ):
            # RFC 7692 6: RSV1 on the (first) frame marks a compressed message.
            self._queue(opcode, ext.compress(payload), rsv1=True)
        else:
            self._queue(opcode, payload)

    def send_frame(self, opcode: Opcode, payload: bytes, *, fin: bool = True) -> None:
        """Queue one data frame of a fragmented message (for streaming senders).

        The caller is responsible for the order: a TEXT or BINARY frame with
        ``fin=False``, then CONTINUATION frames, the last with ``fin=True``.
        """
        self._check_can_send("send a message")
        if opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION):
            raise LocalProtocolError(
                f"send_frame() is for data frames, not {opcode.name}"
            )
        self._queue(opcode, payload, fin=fin)

    def send_fragment(
        self, data: MessageData, *, final: bool, compress: bool | None = None
    ) -> None:
        """Queue one fragment of a message sent in several frames.

        The first call starts the message (``str``: text, bytes-like:
        binary); the next ones continue it with data of the same kind, and
        the one with ``final=True`` ends it. Other messages cannot be sent
        meanwhile; pings, pongs and a close frame can (RFC 6455 5.4).

        Args:
            compress: on the first fragment, with permessage-deflate
                negotiated: None or True compresses the whole message (each
                fragment is flushed so it can go at once), False sends it as
                is. Ignored on later fragments.

        Raises:
            LocalProtocolError: the connection is not open, or ``data`` is
                not of the kind the message started with.
        """
        self._check_can_send("send a message")
        is_text = isinstance(data, str)
        payload = data.encode() if isinstance(data, str) else bytes(data)
        opcode = self._sending
        if opcode is None:
            frame_opcode = self._sending = Opcode.TEXT if is_text else Opcode.BINARY
            ext = self._assembler.extension
            self._sending_compressed = ext is not None and compress is not False
        else:
            if is_text != (opcode is Opcode.TEXT):
                raise LocalProtocolError(
                    f"a {'text' if opcode is Opcode.TEXT else 'binary'} message "
                    "continues with fragments of the same kind"
                )
            frame_opcode = Opcode.CONTINUATION
        self.bytes_sent += len(payload)
        if self._sending_compressed:
            ext = self._assembler.extension
            assert ext is not None
            payload = ext.compress_fragment(payload, final=final)
        # RFC 7692 6: RSV1 on the first frame only marks the message compressed.
        rsv1 = self._sending_compressed and frame_opcode is not Opcode.CONTINUATION
        self._queue(frame_opcode, payload, fin=final, rsv1=rsv1)
        if final:
            self._sending = None
            self.messages_sent += 1

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a ping (payload at most 125 bytes)."""
        self._check_can_send("send a ping")
        self._check_control_payload(payload)
        self._queue(Opcode.PING, payload)

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue an unsolicited pong (payload at most 125 bytes)."""
        self._check_can_send("send a pong")
        self._check_control_payload(payload)
        self._queue(Opcode.PONG, payload)

    # ------------------------------------------------------------------- input

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport; ``b""`` means end-of-file.

        Never raises because of what the peer sent: a violation fails the
        connection (see the class docstring).
        """
        # (ProtocolLifecycle.receive_data with its _receive_bytes hook written
        # out, so that the per-read path takes no extra call.)
        if self.state is State.CLOSED or self.pending_failure is not None:
            return  # RFC 6455 7.1.1: after the closing handshake, ignore input
        if not data:
            self._receive_eof()
            return
        if self._held is not None:
            raise LocalProtocolError("data fed while waiting for choose_message_mode()")
        self.wire_bytes_received += len(data)
        self._parser.feed(data)
        self._parse(None)

    def receive_buffer(self) -> memoryview | None:
        """Room to read the next bytes of a large frame's payload into, if one
        is arriving (None otherwise: read and call :meth:`receive_data`).

        Reading straight into it (``sock.recv_into(view)``) then calling
        :meth:`received_into` saves a copy of the payload and an allocation
        per read. The view never reaches past the frame.
        """
        if (
            self.state is State.CLOSED
            or self.pending_failure is not None
            or self._held is not None
        ):
            return None
        return self._parser.receive_buffer()

    def received_into(self, count: int) -> None:
        """``count`` bytes (more than 0) were read into :meth:`receive_buffer`'s
        view: the same as :meth:`receive_data` with those bytes."""
        self.wire_bytes_received += count
        self._parser.received_into(count)
        self._parse(None)

    def choose_message_mode(self, *, stream: bool) -> None:
        """Resume after a :class:`MessageStart`: assemble the message whole
        (``stream=False``) or stream it as :class:`MessageChunk` events.

        Parsing then goes on over the data already fed.

        Raises:
            LocalProtocolError: the protocol is not :attr:`paused`.
        """
        held = self._held
        if held is None:
            raise LocalProtocolError("no fragmented message waits for a mode")
        self._held = None
        if self.state is State.CLOSED or self.pending_failure is not None:
            return
        self._assembler.streaming = stream
        self._parse(held)

    def _parse(self, frame: Frame | None) -> None:
        # Handles ``frame`` (if given), then every complete frame buffered.
        parser = self._parser
        assembler = self._assembler
        try:
            while not self._closed():
                if frame is None:
                    if parser.idle:  # (the usual end: all taken, nothing begun)
                        break
                    frame = parser.next_frame(assembler.frame_limit())
                    if frame is None:
                        assembler.validate_pending(parser)
                        break
                    self.frames_received += 1
                    if frame.opcode >= 0x8:  # RFC 6455 5.5: a control frame
                        self._handle_control(frame)
                        frame = None
                        continue
                    if (
                        self._pause_fragmented
                        and not frame.fin
                        and frame.opcode is not Opcode.CONTINUATION
                        and not assembler.in_message
                    ):
                        # The first frame of a fragmented message: the user
                        # chooses how to receive it (choose_message_mode).
                        assembler.check_reserved_bits(frame)
                        self._held = frame
                        self._events.append(MessageStart(frame.opcode is Opcode.TEXT))
                        break
                message = assembler.receive_frame(frame)
                frame = None
                if message is not None:
                    if type(message) is not MessageChunk or message.final:
                        self.messages_received += 1
                    self._events.append(message)
        except RemoteProtocolError as exc:
            self._peer_fault(exc)

    def _handle_control(self, frame: Frame) -> None:
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            # RFC 6455 5.2: non-zero RSV bits need a negotiated extension; RFC
            # 7692 6: permessage-deflate's RSV1 is for data frames only.
            if frame.rsv2 or frame.rsv3 or self._assembler.extension is None:
                raise RemoteProtocolError(
                    "reserved bits set without a negotiated extension"
                )
            raise RemoteProtocolError("RSV1 set on a control frame")
        opcode = frame.opcode
        if opcode is Opcode.PING:
            self._events.append(Ping(frame.payload))
            if self.state is State.OPEN:
                # RFC 6455 5.5.2: answer with a pong carrying the same payload.
                self._queue_pong(frame.payload)
        elif opcode is Opcode.PONG:
            self._events.append(Pong(frame.payload))
        else:
            self._handle_close(frame.payload)

    def _handle_close(self, payload: bytes) -> None:
        # RFC 6455 5.5.1: an optional 2-byte code, then an optional UTF-8 reason.
        if not payload:
            received = make_close_reason(1005)
            echo: bytes = b""
        elif len(payload) == 1:
            raise RemoteProtocolError("close frame with a 1-byte payload")
        else:
            code = CLOSE_CODE.unpack_from(payload)[0]
            if not is_valid_received_close_code(code):
                raise RemoteProtocolError(f"invalid close code {code}")
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(
                    "close reason is not valid UTF-8", 1007
                ) from exc
            received = make_close_reason(code, reason)
            echo = payload[:2]  # RFC 6455 5.5.1: echo the status code
        self._receive_close(received, echo)

    def _queue_close(self, payload: bytes) -> None:
        self._queue(Opcode.CLOSE, payload)

    def _on_fail(self, code: int) -> None:
        # RFC 6455 7.1.7: our close frame carries the error's code.
        if self.state is State.OPEN:
            self._queue_close(CLOSE_CODE.pack(code))
            self.close_sent = make_close_reason(code)
        elif self.close_sent is not None:
            # Our close frame is already out; report the error's code instead.
            self.close_sent = make_close_reason(code)

    # ----------------------------------------------------------------- helpers

    def _check_can_send_message(self) -> None:
        self._check_can_send("send a message")
        if self._sending is not None:
            raise LocalProtocolError(
                "cannot send a message while a fragmented one is being sent"
            )

    @staticmethod
    def _check_control_payload(payload: bytes) -> None:
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError(
                f"control frame payload of {len(payload)} bytes (limit 125)"
            )

    def _queue_pong(self, payload: bytes) -> None:
        out = self._out
        index = self._last_pong
        if index >= len(out) or out[index] is not self._last_pong_frame:
            # data_to_send() took the earlier pongs (it starts a new list):
            # count afresh. (The frame is compared by identity: each frame
            # is a bytes object of its own; were two ever the same object,
            # pongs would only be coalesced sooner, which 5.5.3 allows.)
            self._unsent_pongs = 0
        key = random_mask_key() if self._is_client else None
        frame = build_frame(Opcode.PONG, payload, mask_key=key)
        self._last_pong_frame = frame
        if self._unsent_pongs < MAX_UNSENT_PONGS:
            self._emit(frame)
            self._unsent_pongs += 1
            self._last_pong = len(out) - 1
            return
        # RFC 6455 5.5.3: answer only the most recent ping; its pong takes
        # the place of the last unsent one (the buffer is only appended to
        # until data_to_send() replaces it, so the index holds).
        self._out_size += len(frame) - len(out[index])
        out[index] = frame

    def _queue(
        self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> None:
        if self._is_client:
            key = random_mask_key()
            self._emit(build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=key))
        elif len(payload) >= WRITE_PIECE:
            # (Bytes are immutable: the payload can wait in the buffer as it is.)
            header = frame_header(
                opcode, len(payload), fin=fin, rsv1=rsv1, masked=False
            )
            self._emit_apart(header, payload)
        else:
            self._emit(build_frame(opcode, payload, fin=fin, rsv1=rsv1))
