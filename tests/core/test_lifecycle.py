"""The lifecycle both protocol classes share (trio_ws/_core/_lifecycle.py):
state, closing handshake, failure, end-of-file, and who closes TCP first.

Every test runs on RFC 6455's Protocol and on draft-76's Hixie76Protocol,
on both ends, with each one's own wire bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from trio_ws import LocalProtocolError
from trio_ws._core._events import (
    CloseReason,
    CloseReceived,
    ConnectionLost,
    ProtocolFailure,
    TextMessage,
)
from trio_ws._core._frames import Opcode, build_frame
from trio_ws._core._hixie76_protocol import CLOSE_FRAME, Hixie76Protocol
from trio_ws._core._interface import ProtocolLike
from trio_ws._core._lifecycle import ProtocolLifecycle
from trio_ws._core._protocol import Protocol, Role, State

KEY = b"\x0a\x0b\x0c\x0d"


@dataclass
class Variant:
    """One protocol class on one end, and the bytes its peer would send."""

    name: str
    role: Role

    def make(self, **options: Any) -> Protocol | Hixie76Protocol:
        if self.name == "rfc6455":
            return Protocol(self.role, **options)
        return Hixie76Protocol(self.role, **options)

    def _frame(self, opcode: Opcode, payload: bytes) -> bytes:
        # A client's frames are masked (RFC 6455 5.1): what a server receives.
        key = KEY if self.role is Role.SERVER else None
        return build_frame(opcode, payload, mask_key=key)

    def text(self, message: str) -> bytes:
        if self.name == "rfc6455":
            return self._frame(Opcode.TEXT, message.encode())
        return b"\x00" + message.encode() + b"\xff"

    def bad_utf8(self) -> bytes:
        """A text message that is not UTF-8: both fail the connection, 1007."""
        if self.name == "rfc6455":
            return self._frame(Opcode.TEXT, b"\xc3\x28")
        return b"\x00\xc3\x28\xff"

    def close(self) -> bytes:
        """The peer's close frame (RFC 6455: code 1000, reason "bye")."""
        if self.name == "rfc6455":
            return self._frame(Opcode.CLOSE, b"\x03\xe8bye")
        return CLOSE_FRAME

    def peer_close_reason(self) -> CloseReason:
        return CloseReason(1000, "bye" if self.name == "rfc6455" else "")


VARIANTS = [
    Variant(name, role)
    for name in ("rfc6455", "hixie76")
    for role in (Role.SERVER, Role.CLIENT)
]

variants = pytest.mark.parametrize(
    "variant", VARIANTS, ids=lambda v: f"{v.name}-{v.role.value}"
)


def test_both_protocol_classes_share_the_lifecycle() -> None:
    assert issubclass(Protocol, ProtocolLifecycle)
    assert issubclass(Hixie76Protocol, ProtocolLifecycle)
    for cls in (Protocol, Hixie76Protocol):
        # The lifecycle's members are inherited, not written again.
        for name in ("close_reason", "send_close", "fail_pending", "_fail"):
            assert name not in vars(cls), f"{cls.__name__} redefines {name}"


# --- Who closes the transport first (RFC 6455 7.1.1) ---------------------------


def after_close_handshake(variant: Variant) -> Protocol | Hixie76Protocol:
    proto = variant.make()
    proto.send_close()
    proto.receive_data(variant.close())
    assert proto.state is State.CLOSED
    return proto


def after_failure(variant: Variant) -> Protocol | Hixie76Protocol:
    proto = variant.make()
    proto.receive_data(variant.bad_utf8())
    assert proto.state is State.CLOSED
    return proto


def after_deferred_failure(variant: Variant) -> Protocol | Hixie76Protocol:
    proto = variant.make(defer_failure=True)
    proto.receive_data(variant.bad_utf8())
    proto.fail_pending()
    assert proto.state is State.CLOSED
    return proto


@variants
@pytest.mark.parametrize(
    "reach",
    [
        lambda variant: variant.make(),
        after_close_handshake,
        after_failure,
        after_deferred_failure,
    ],
    ids=["open", "close-handshake", "failure", "deferred-failure"],
)
def test_the_server_closes_the_transport_first(variant: Variant, reach: Any) -> None:
    proto = reach(variant)
    expected = variant.role is Role.SERVER
    assert proto.closes_transport_first is expected
    # Through the interface the Trio layer is typed against.
    as_interface: ProtocolLike = proto
    assert as_interface.closes_transport_first is expected


@variants
def test_peer_close_then_our_echo(variant: Variant) -> None:
    # Whoever receives the close frame first still leaves TCP to the server.
    proto = variant.make()
    proto.receive_data(variant.close())
    assert proto.state is State.CLOSED
    assert proto.has_data_to_send  # the echo
    assert proto.closes_transport_first is (variant.role is Role.SERVER)


# --- End-of-file ---------------------------------------------------------------


@variants
def test_eof_while_open(variant: Variant) -> None:
    proto = variant.make()
    proto.receive_data(b"")
    assert proto.events() == [ConnectionLost()]
    assert proto.state is State.CLOSED
    assert proto.close_reason == CloseReason(1006)
    assert proto.close_sent is None
    assert proto.close_received is None
    # Nothing after the end is read, not even a second end.
    proto.receive_data(variant.text("late"))
    proto.receive_data(b"")
    assert proto.events() == []


@variants
def test_eof_while_closing(variant: Variant) -> None:
    proto = variant.make()
    proto.send_close(4000, "going")
    assert proto.state is State.CLOSING
    assert proto.close_reason is None  # not closed yet
    proto.receive_data(b"")
    assert proto.events() == [ConnectionLost()]
    assert proto.close_reason == CloseReason(1006)
    assert proto.close_sent == CloseReason(4000, "going")


# --- The closing handshake -----------------------------------------------------


@variants
def test_the_peer_closes_first(variant: Variant) -> None:
    proto = variant.make()
    proto.receive_data(variant.text("last") + variant.close() + variant.text("x"))
    received = variant.peer_close_reason()
    assert proto.events() == [TextMessage("last"), CloseReceived(received)]
    assert proto.state is State.CLOSED
    assert proto.close_received == received
    assert proto.close_sent == CloseReason(1000)  # our echo
    assert proto.close_reason == received
    with pytest.raises(LocalProtocolError, match="closed"):
        proto.send_close()


@variants
def test_we_close_first(variant: Variant) -> None:
    proto = variant.make()
    proto.send_close(4001, "done")
    assert proto.has_data_to_send
    with pytest.raises(LocalProtocolError, match="closing"):
        proto.send_close()
    with pytest.raises(LocalProtocolError, match="closing"):
        proto.send_text("no")
    proto.data_to_send()
    proto.receive_data(variant.close())
    assert proto.events() == [CloseReceived(variant.peer_close_reason())]
    assert not proto.has_data_to_send  # no second close frame
    assert proto.close_sent == CloseReason(4001, "done")
    assert proto.close_reason == variant.peer_close_reason()


@variants
def test_send_close_checks_its_arguments_the_same_way(variant: Variant) -> None:
    proto = variant.make()
    for code, reason, message in [
        (1005, "", "1005 may not be sent"),
        (None, "why", "needs a close code"),
        (1000, "é" * 62, "124 bytes in UTF-8"),
    ]:
        with pytest.raises(LocalProtocolError, match=message):
            proto.send_close(code, reason)
    assert proto.state is State.OPEN
    assert not proto.has_data_to_send
    proto.send_close(None)
    assert proto.close_sent == CloseReason(1005)


# --- Failing the connection ----------------------------------------------------


@variants
def test_failure_is_the_close_reason_and_the_first_cause_wins(variant: Variant) -> None:
    proto = variant.make()
    proto.receive_data(variant.bad_utf8() + variant.close())
    events = proto.events()
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailure)
    assert proto.error is events[0].error
    assert proto.error.close_code == 1007
    assert proto.close_reason == CloseReason(1007)
    # Later causes change nothing: a close frame, an end-of-file.
    proto.receive_data(variant.close())
    proto.receive_data(b"")
    assert proto.events() == []
    assert proto.close_received is None
    assert proto.close_reason == CloseReason(1007)


@variants
def test_deferred_failure(variant: Variant) -> None:
    proto = variant.make(defer_failure=True)
    proto.receive_data(variant.text("before") + variant.bad_utf8())
    assert proto.events() == [TextMessage("before")]
    assert proto.pending_failure is not None
    assert proto.state is State.OPEN
    # Held: input is ignored, end-of-file included, sending still works.
    proto.receive_data(variant.text("after"))
    proto.receive_data(b"")
    assert proto.events() == []
    proto.send_text("reply")
    error = proto.pending_failure
    proto.fail_pending()
    assert proto.events() == [ProtocolFailure(error)]
    assert proto.pending_failure is None
    assert proto.error is error
    assert proto.close_reason == CloseReason(1007)
    proto.fail_pending()  # nothing pending any more
    assert proto.events() == []


@variants
def test_fail_pending_without_a_fault_does_nothing(variant: Variant) -> None:
    proto = variant.make(defer_failure=True)
    proto.fail_pending()
    assert proto.events() == []
    assert proto.state is State.OPEN


@variants
def test_failure_while_closing(variant: Variant) -> None:
    proto = variant.make()
    proto.send_close(4002)
    proto.data_to_send()
    proto.receive_data(variant.bad_utf8())
    assert [type(event) for event in proto.events()] == [ProtocolFailure]
    assert proto.state is State.CLOSED
    assert not proto.has_data_to_send  # our close frame is out already
    assert proto.close_reason == CloseReason(1007)
    # RFC 6455 reports the error's code as what we closed with; draft-76
    # sends no codes and keeps the one given to send_close().
    expected = 1007 if variant.name == "rfc6455" else 4002
    assert proto.close_sent == CloseReason(expected)


def test_what_failing_sends_differs() -> None:
    # RFC 6455 7.1.7: a close frame with the error's code; draft-76 6:
    # nothing (closing TCP is the failure).
    rfc = Protocol(Role.SERVER)
    rfc.receive_data(VARIANTS[0].bad_utf8())
    assert rfc.data_to_send() == build_frame(Opcode.CLOSE, b"\x03\xef")
    assert rfc.close_sent == CloseReason(1007)
    hixie = Hixie76Protocol(Role.SERVER)
    hixie.receive_data(VARIANTS[2].bad_utf8())
    assert hixie.data_to_send() == b""
    assert hixie.close_sent is None
