"""Stream a file larger than max_message_size over one WebSocket message.

    python examples/stream_file.py [FILE] [--chunk-size 65536]

Starts a receiving server on a free loopback port, with the default
``max_message_size`` (1 MiB), and sends FILE to it as ONE binary message
in fragments of ``--chunk-size`` bytes, read from disk as they are sent.
The server takes the message with ``receive_stream()``, writes each chunk
to a temporary file as it arrives and answers with the SHA-256 of what it
got, which the sender checks. Without FILE, an 8 MiB file of random bytes
is made (and removed) for the demonstration. Memory stays bounded on both
sides whatever the file's size: one chunk in flight per frame, at most
``message_queue_size`` chunks waiting.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket

DEFAULT_CHUNK_SIZE = 64 * 1024
DEMO_SIZE = 8 * 2**20


async def receive_file(ws: WebSocket) -> None:
    """Handler: write one streamed message to a temporary file, answer its hash."""
    digest = hashlib.sha256()
    size = 0
    async with trio.wrap_file(tempfile.TemporaryFile()) as out:
        stream = await ws.receive_stream()
        async for chunk in stream:
            assert isinstance(chunk, bytes)
            await out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    await ws.send(f"{size} {digest.hexdigest()}")


async def read_chunks(path: Path, chunk_size: int) -> AsyncIterator[bytes]:
    """The file, chunk by chunk (read in a thread): each chunk is one frame."""
    async with await trio.open_file(path, "rb") as source:
        while chunk := await source.read(chunk_size):
            yield chunk


def sha256_of(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and size, read a block at a time."""
    digest = hashlib.sha256()
    length = 0
    with path.open("rb") as source:
        while block := source.read(2**20):
            digest.update(block)
            length += len(block)
    return digest.hexdigest(), length


async def main(path: Path, chunk_size: int, expected: str, length: int) -> int:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(serve_websocket, receive_file, 0, host="127.0.0.1")
        )
        url = f"ws://127.0.0.1:{server.port}/upload"
        async with open_websocket_url(url) as ws:
            await ws.send(read_chunks(path, chunk_size))
            size, digest = str(await ws.receive()).split()
        nursery.cancel_scope.cancel()
    limit = server.options.max_message_size
    print(f"sent {length} bytes in one message (max_message_size {limit})")
    print(f"server received {size} bytes, sha256 {digest}")
    ok = digest == expected
    print("checksums match" if ok else "CHECKSUM MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "demo.bin"
            path.write_bytes(os.urandom(DEMO_SIZE))
        expected, length = sha256_of(path)
        sys.exit(trio.run(main, path, args.chunk_size, expected, length))
