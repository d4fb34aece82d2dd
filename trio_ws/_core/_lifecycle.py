"""The connection lifecycle both protocol classes share (sans-I/O).

RFC 6455's :class:`~._protocol.Protocol` and draft-76's
:class:`~._hixie76_protocol.Hixie76Protocol` differ in their framing only.
What happens around it is the same, and lives here once:

- the state, moved along the table in :mod:`._states` (RFC 6455 7.1; the
  draft-76 closing handshake, its 1.4 and 6, has the same shape);
- the closing handshake's bookkeeping: :attr:`~ProtocolLifecycle.close_sent`,
  :attr:`~ProtocolLifecycle.close_received` and the close reason reported at
  the end (the peer's close frame, else the failure's code, else 1006);
- failing the connection, at once or deferred (``pending_failure``,
  ``fail_pending``), with its :class:`ProtocolFailure` event;
- end-of-file (:class:`ConnectionLost`);
- which end closes the transport first once it is over.

A subclass parses its wire format (:meth:`_receive_bytes`) and calls
:meth:`_receive_close` when the peer's close frame arrives; it says how its
close frame looks (:meth:`_queue_close`) and what failing puts on the wire
(:meth:`_on_fail`).
"""

from __future__ import annotations

import struct

from ._buffers import ProtocolBuffers
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    CloseReason,
    CloseReceived,
    ConnectionLost,
    ProtocolFailure,
    make_close_reason,
)
from ._frames import MAX_CONTROL_PAYLOAD, is_sendable_close_code
from ._states import TRANSITIONS, Role, State, _Input

__all__ = ["CLOSE_CODE", "MAX_CLOSE_REASON", "ProtocolLifecycle", "close_payload"]

# RFC 6455 5.5.1: a close payload is a 2-byte code plus at most 123 bytes.
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

#: A close frame's status code, as it is on the wire (RFC 6455 5.5.1).
CLOSE_CODE = struct.Struct("!H")


class ProtocolLifecycle(ProtocolBuffers):
    """State, closing handshake and failure of one connection, free of I/O.

    The base of both protocol classes (see the module docstring); not used
    on its own. Attributes, read by the I/O layer:

    - ``role``: which end this is (:class:`Role`).
    - ``state``: :class:`State`, moved only along ``TRANSITIONS``.
    - ``close_received``: the close reason the peer sent, once its close
      frame arrived.
    - ``close_sent``: the close reason we sent, once our close frame is
      queued (draft-76 records it but cannot send a code).
    - ``error``: the peer's protocol violation, if the core failed the
      connection.
    - ``pending_failure``: a peer fault waiting for :meth:`fail_pending`
      (with ``defer_failure``).
    """

    __slots__ = (
        "_defer_failure",
        "close_received",
        "close_sent",
        "error",
        "pending_failure",
        "role",
        "state",
    )

    def __init__(self, role: Role, *, defer_failure: bool) -> None:
        super().__init__()
        self.role = role
        self.state = State.OPEN
        self.close_received: CloseReason | None = None
        self.close_sent: CloseReason | None = None
        self.error: RemoteProtocolError | None = None
        self.pending_failure: RemoteProtocolError | None = None
        self._defer_failure = defer_failure

    # ------------------------------------------------------------------ output

    @property
    def close_reason(self) -> CloseReason | None:
        """Why the connection closed, once it has (None while open or closing).

        The peer's close frame when there was one (draft-76: always 1000),
        else the code of the protocol failure (the one our close frame
        carried, on RFC 6455), else 1006 (the transport ended first).
        """
        if self.state is not State.CLOSED:
            return None
        if self.close_received is not None:
            return self.close_received
        if self.error is not None:
            return make_close_reason(self.error.close_code)
        return make_close_reason(1006)

    @property
    def closes_transport_first(self) -> bool:
        """Whether this end closes the transport first once the connection
        is over (the close frames crossed, or it failed).

        True for the server: it closes TCP at once. False for a client: it
        waits for the server to close, and closes the transport itself only
        if that takes too long (RFC 6455 7.1.1: the server, not the client,
        is then left holding TIME_WAIT). draft-76 has no rule of its own;
        the same one applies.
        """
        return self.role is Role.SERVER

    # ---------------------------------------------------------------- commands

    def send_close(self, code: int | None = 1000, reason: str = "") -> None:
        """Start the closing handshake by queueing a close frame.

        Args:
            code: the close code, or None to send a close frame with no body
                (the peer then sees 1005). Codes 1005, 1006, 1015 and codes not
                registered for the wire are refused.
            reason: a text of at most 123 bytes in UTF-8 (needs a code).

        draft-76 checks ``code`` and ``reason`` as RFC 6455 does (so that code
        moving between the two protocols behaves the same) and records them
        in :attr:`close_sent`, but its close frame, 0xFF 0x00, carries neither.

        Raises:
            LocalProtocolError: the connection is not open, or the code or
                reason is not allowed.
        """
        if _Input.SEND_CLOSE not in TRANSITIONS[self.state]:
            raise LocalProtocolError(
                f"cannot close a connection that is {self.state.value}"
            )
        self._queue_close(close_payload(code, reason))
        self.close_sent = make_close_reason(1005 if code is None else code, reason)
        self._transition(_Input.SEND_CLOSE)

    def fail_pending(self) -> None:
        """Fail the connection because of :attr:`pending_failure`, if any.

        Does exactly what an immediate failure would have done (RFC 6455:
        queues the close frame with the error's code) and emits
        :class:`ProtocolFailure`.
        """
        error = self.pending_failure
        if error is None:
            return
        self.pending_failure = None
        if not self._closed():
            self._fail(error)

    # ------------------------------------------------------------------- input

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport; ``b""`` means end-of-file.

        Never raises because of what the peer sent: a violation fails the
        connection (or waits in :attr:`pending_failure`). Input after the
        closing handshake, a failure or a pending failure is ignored (RFC
        6455 7.1.1, draft-76 6).
        """
        # (Protocol has its own copy of the first lines, its per-read path.)
        if self.state is State.CLOSED or self.pending_failure is not None:
            return
        if not data:
            self._receive_eof()
            return
        self.wire_bytes_received += len(data)
        try:
            self._receive_bytes(data)
        except RemoteProtocolError as exc:
            self._peer_fault(exc)

    # ------------------------------------------------ for the subclasses' input

    def _receive_eof(self) -> None:
        # The transport ended (receive_data(b"") while not closed).
        self._transition(_Input.EOF)
        self._events.append(ConnectionLost())

    def _receive_close(self, received: CloseReason, echo: bytes) -> None:
        # The peer's close frame arrived. Unless ours is out already, answer
        # it with ``echo`` (RFC 6455 5.5.1: the status code echoed; draft-76
        # 1.4: 0xFF 0x00); either way the closing handshake is over.
        self.close_received = received
        if self.state is State.OPEN:
            self._queue_close(echo)
            self.close_sent = make_close_reason(received.code)
        self._transition(_Input.RECEIVE_CLOSE)
        self._events.append(CloseReceived(received))

    def _peer_fault(self, error: RemoteProtocolError) -> None:
        # The peer broke the protocol: fail now, or hold the fault until
        # fail_pending() when the I/O layer asked for that (defer_failure).
        if self._defer_failure:
            self.pending_failure = error
        else:
            self._fail(error)

    def _fail(self, error: RemoteProtocolError) -> None:
        """Fail the connection (RFC 6455 7.1.7, draft-76 6)."""
        self.error = error
        self._on_fail(error.close_code)
        self._transition(_Input.FAIL)
        self._events.append(ProtocolFailure(error))

    # --------------------------------------------------- the subclasses' part

    def _receive_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Parse ``data`` (not empty), raising :class:`RemoteProtocolError` on
        a fault. (A subclass with its own receive_data need not have it.)"""
        raise NotImplementedError

    def _queue_close(self, payload: bytes) -> None:
        """Queue our close frame; ``payload`` is its RFC 6455 body (code and
        reason, or empty), which a wire format without one ignores."""
        raise NotImplementedError

    def _on_fail(self, code: int) -> None:
        """Put on the wire what failing the connection with ``code`` sends,
        and drop what the failure abandons (called while still open or
        closing, before the state becomes CLOSED)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers

    def _closed(self) -> bool:
        # (A method, so type checkers do not narrow self.state across calls.)
        return self.state is State.CLOSED

    def _transition(self, what: _Input) -> None:
        self.state = TRANSITIONS[self.state][what]

    def _check_can_send(self, action: str) -> None:
        # (Not ``in`` a set: hashing an enum member runs Python code, and
        # this is checked for every message sent.)
        if self.state is not State.OPEN:
            raise LocalProtocolError(
                f"cannot {action}: the connection is {self.state.value}"
            )


def close_payload(code: int | None, reason: str) -> bytes:
    """The body of a close frame with ``code`` and ``reason`` (RFC 6455
    5.5.1), checked as :meth:`ProtocolLifecycle.send_close` documents."""
    if code is None:
        if reason:
            raise LocalProtocolError("a close reason needs a close code")
        return b""
    if not is_sendable_close_code(code):
        raise LocalProtocolError(f"close code {code} may not be sent")
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON:
        raise LocalProtocolError(
            f"close reason is {len(encoded)} bytes in UTF-8 (limit {MAX_CLOSE_REASON})"
        )
    return CLOSE_CODE.pack(code) + encoded
