"""Cross-process pub/sub for examples/workers.py. AN EXAMPLE, NOT A BROKER.

The parent process holds one end of a ``socket.socketpair()`` per worker and
copies every message a worker publishes to every worker, the publisher
included, so all workers deliver messages in the same order. Each worker
uses :class:`RelayPubSub`, which implements ``trio_ws.PubSub``: ``publish()``
writes a frame to the parent; a reader task hands the frames coming back to
a ``trio_ws.LocalPubSub``, whose subscriptions the handlers read.

It needs nothing but the parent process, and it ends with it: one machine,
no persistence, no reconnection. For several machines use a real broker
(Redis pub/sub: see the README's Scale-out section).

Wire format, one frame per message::

    >I   length of what follows the 4 bytes
    B    kind: 1 text, 2 binary, 3 "worker ready" (no channel, no message)
    >H   length of the channel name (UTF-8)
         channel name, then the message (UTF-8 for text)
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import trio

from trio_ws import LocalPubSub, Subscription

logger = logging.getLogger("socketpair_relay")

_LENGTH = struct.Struct(">I")
_KIND_CHANNEL = struct.Struct(">BH")
KIND_TEXT, KIND_BINARY, KIND_READY = 1, 2, 3

# Largest frame (after its length prefix): trio_ws' default max_message_size
# (1 MiB, UTF-8 for text) plus the kind and the longest channel name. A peer
# announcing more is broken: the connection is dropped, not buffered.
MAX_FRAME = (1 << 20) + _KIND_CHANNEL.size + 0xFFFF

# Bytes read from the socketpair at a time.
READ_SIZE = 65536

# Frames the parent holds for one worker that is slow to read them; past it
# the oldest is dropped (LocalPubSub's policy) and logged.
RELAY_QUEUE_SIZE = 1024


def encode(kind: int, channel: str = "", message: str | bytes = b"") -> bytes:
    """One frame; raises ValueError when it would exceed MAX_FRAME."""
    name = channel.encode()
    body = message.encode() if isinstance(message, str) else bytes(message)
    size = _KIND_CHANNEL.size + len(name) + len(body)
    if len(name) > 0xFFFF or size > MAX_FRAME:
        raise ValueError(f"frame too large for the relay: {size} bytes")
    return _LENGTH.pack(size) + _KIND_CHANNEL.pack(kind, len(name)) + name + body


def decode(frame: bytes) -> tuple[int, str, str | bytes]:
    """(kind, channel, message) from a frame without its length prefix."""
    kind, name_length = _KIND_CHANNEL.unpack_from(frame)
    start = _KIND_CHANNEL.size
    channel = frame[start : start + name_length].decode()
    body = frame[start + name_length :]
    if kind == KIND_TEXT:
        return kind, channel, body.decode()
    if kind in (KIND_BINARY, KIND_READY):
        return kind, channel, body
    raise ValueError(f"unknown relay frame kind {kind}")


async def read_frames(stream: trio.abc.ReceiveStream) -> AsyncIterator[bytes]:
    """Yield whole frames (without their length prefix) until EOF.

    The buffer holds at most one frame plus one read.

    Raises:
        ValueError: a frame announced more than MAX_FRAME bytes, or the
            stream ended inside a frame.
    """
    buffer = bytearray()
    while True:
        while len(buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer)
            if size > MAX_FRAME or size < _KIND_CHANNEL.size:
                raise ValueError(f"relay frame of {size} bytes refused")
            if len(buffer) < _LENGTH.size + size:
                break
            yield bytes(buffer[_LENGTH.size : _LENGTH.size + size])
            del buffer[: _LENGTH.size + size]
        data = await stream.receive_some(READ_SIZE)
        if not data:
            if buffer:
                raise ValueError("the relay connection ended inside a frame")
            return
        buffer += data


class Relay:
    """The parent's side: copies every published frame to every worker.

    Args:
        workers: how many workers will say they are ready.
    """

    def __init__(self, workers: int) -> None:
        self._hub = LocalPubSub(queue_size=RELAY_QUEUE_SIZE)
        self._expected = workers
        self._ready = 0
        self.all_ready = trio.Event()

    async def serve(self, stream: trio.abc.Stream) -> None:
        """Relay for one worker until it closes its end (or breaks it)."""
        async with (
            stream,
            self._hub.subscribe("") as frames,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self._write, stream, frames)
            try:
                async for frame in read_frames(stream):
                    if frame[0] == KIND_READY:
                        self._ready += 1
                        if self._ready >= self._expected:
                            self.all_ready.set()
                    else:
                        self._hub.publish_nowait("", _LENGTH.pack(len(frame)) + frame)
            except (ValueError, trio.BrokenResourceError) as exc:
                logger.warning("dropping a worker's relay connection: %r", exc)
            except trio.ClosedResourceError:
                pass  # the parent closed this end itself
            nursery.cancel_scope.cancel()

    @staticmethod
    async def _write(stream: trio.abc.Stream, frames: Subscription) -> None:
        reported = 0
        try:
            async for frame in frames:
                if frames.dropped != reported:
                    logger.warning("a slow worker lost %d frames", frames.dropped)
                    reported = frames.dropped
                assert isinstance(frame, bytes)
                await stream.send_all(frame)
        except trio.BrokenResourceError:
            pass  # the worker is gone; its reader ends the same way


class RelayPubSub:
    """A worker's side: ``trio_ws.PubSub`` over the parent's relay.

    Run :meth:`run` in a nursery; it returns when the parent goes away, and
    the subscriptions then end (EOF) or break (error).

    Args:
        stream: this worker's end of the socketpair.
    """

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._local = LocalPubSub()
        self._send_lock = trio.Lock()

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Send to every subscriber of ``channel`` in every worker.

        Raises:
            ValueError: the message is larger than the relay accepts.
            trio.BrokenResourceError: the parent is gone.
        """
        kind = KIND_TEXT if isinstance(message, str) else KIND_BINARY
        await self._send(encode(kind, channel, message))

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """Subscribe to ``channel`` (messages published by any worker)."""
        return self._local.subscribe(channel)

    async def announce_ready(self) -> None:
        """Tell the parent this worker is serving."""
        await self._send(encode(KIND_READY))

    async def _send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self._stream.send_all(frame)

    async def run(self) -> None:
        """Deliver the parent's frames to local subscribers until EOF."""
        try:
            async for frame in read_frames(self._stream):
                _, channel, message = decode(frame)
                self._local.publish_nowait(channel, message)
        except (ValueError, trio.BrokenResourceError) as exc:
            self._local.close(exc)
        except trio.ClosedResourceError:
            self._local.close()  # aclose() from another task: our own doing
        else:
            self._local.close()

    async def aclose(self) -> None:
        """Close this worker's end: the parent stops relaying to it."""
        await self._stream.aclose()
