"""A stream that hands over one WebSocket frame at a time (``message_queue_size=0``).

trio-websocket's reader takes events one by one and, with a queue of size 0,
waits at each message until ``get_message()`` takes it: a ping or a close
frame behind that message is not answered before. trio_ws's protocol parses
everything one read brings in at once (answering pings and close frames as
it goes), so a rendezvous queue alone holds back only what arrives in later
reads. Under this wrapper no read crosses a frame boundary: the engine's
reader stops after each message until it is taken, whatever TCP put
together.
"""

from __future__ import annotations

import trio

__all__ = ["FramewiseStream", "frame_size"]


def frame_size(data: bytes | bytearray) -> int | None:
    """Size of the frame at the start of ``data`` (header and payload), or
    None until its header's length fields are there (RFC 6455 5.2)."""
    if len(data) < 2:
        return None
    length = data[1] & 0x7F
    header = 2
    if length >= 126:
        header = 4 if length == 126 else 10
        if len(data) < header:
            return None
        length = int.from_bytes(data[2:header], "big")
    if data[1] & 0x80:  # a masking key follows the length
        header += 4
    return header + length


class FramewiseStream(trio.abc.Stream):
    """Wraps ``transport_stream``; ``receive_some()`` stops at each frame's end.

    Args:
        transport_stream: the upgraded stream.
        received: bytes already read after the handshake (the first frames).
        receive_size: largest read from ``transport_stream``.
    """

    def __init__(
        self, transport_stream: trio.abc.Stream, received: bytes, receive_size: int
    ) -> None:
        self.transport_stream = transport_stream
        self._buffer = bytearray(received)
        self._left = 0  # bytes of the current frame not handed over yet
        self._receive_size = receive_size

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Bytes of the current frame only (``b""`` at end of file)."""
        if self._left == 0:
            # At a frame boundary: its header tells how far this frame goes.
            while (size := frame_size(self._buffer)) is None:
                if not await self._fill():
                    return self._take(len(self._buffer))  # (then b"")
            self._left = size
        if not self._buffer and not await self._fill():
            return b""
        count = min(self._left, len(self._buffer))
        if max_bytes is not None:
            count = min(count, max_bytes)
        self._left -= count
        return self._take(count)

    async def _fill(self) -> bool:
        data = await self.transport_stream.receive_some(self._receive_size)
        self._buffer += data
        return bool(data)

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send on the transport stream."""
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """As the transport stream's."""
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the transport stream."""
        await self.transport_stream.aclose()
