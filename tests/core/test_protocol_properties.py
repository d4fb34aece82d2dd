"""Hypothesis: chunking invariance and "garbage never raises"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ws._core._events import Event
from trio_ws._core._frames import Opcode, build_frame
from trio_ws._core._protocol import Protocol, Role, State

KEY = b"\x9a\x01\xfe\x42"

text_frames = st.text(max_size=40).map(
    lambda s: build_frame(Opcode.TEXT, s.encode(), mask_key=KEY)
)
binary_frames = st.binary(max_size=300).map(
    lambda b: build_frame(Opcode.BINARY, b, mask_key=KEY)
)
pings = st.binary(max_size=125).map(lambda b: build_frame(Opcode.PING, b, mask_key=KEY))
fragmented = st.lists(st.text(max_size=10), min_size=2, max_size=5).map(
    lambda parts: b"".join(
        build_frame(
            Opcode.TEXT if i == 0 else Opcode.CONTINUATION,
            p.encode(),
            fin=i == len(parts) - 1,
            mask_key=KEY,
        )
        for i, p in enumerate(parts)
    )
)
streams = st.lists(
    st.one_of(text_frames, binary_frames, pings, fragmented), max_size=8
).map(b"".join)


def run(chunks: list[bytes]) -> tuple[list[Event], bytes, State]:
    proto = Protocol(Role.SERVER)
    events: list[Event] = []
    out = b""
    for chunk in chunks:
        proto.receive_data(chunk)
        events.extend(proto.events())
        out += proto.data_to_send()
    return events, out, proto.state


@given(streams, st.lists(st.integers(min_value=0, max_value=4000), max_size=20))
def test_any_split_of_a_valid_stream_gives_the_same_events(
    data: bytes, cuts: list[int]
) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [
        data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)
    ]
    chunks = [c for c in chunks if c]  # b"" would mean EOF
    whole = run([data] if data else [])
    assert run(chunks) == whole
    assert whole[2] is State.OPEN


@settings(max_examples=300)
@given(
    st.lists(st.binary(min_size=1, max_size=64), max_size=10),
    st.sampled_from(list(Role)),
)
def test_garbage_never_raises(chunks: list[bytes], role: Role) -> None:
    proto = Protocol(role, max_message_size=1000)
    for chunk in chunks:
        proto.receive_data(chunk)
        proto.events()
        proto.data_to_send()
    proto.receive_data(b"")
    assert proto.state is State.CLOSED
    assert proto.close_reason is not None


@given(st.binary(max_size=200), st.sampled_from(list(Role)))
def test_garbage_behind_a_valid_frame_never_raises(garbage: bytes, role: Role) -> None:
    prefix = build_frame(
        Opcode.TEXT, b"ok", mask_key=KEY if role is Role.SERVER else None
    )
    proto = Protocol(role)
    proto.receive_data(prefix + garbage)
    events = proto.events()
    assert events[0].__class__.__name__ == "TextMessage"
