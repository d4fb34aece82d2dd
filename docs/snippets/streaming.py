"""Streaming: send a file bigger than max_message_size in fragments, and
receive it chunk by chunk.

Run it: ``python docs/snippets/streaming.py``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator

import trio

from trio_ws import WebSocket, open_websocket_url, serve_websocket

LIMIT = 64 * 1024  # the server's max_message_size
CHUNK = 16 * 1024  # one frame per chunk: each must stay under LIMIT


async def upload_handler(ws: WebSocket) -> None:
    while True:
        stream = await ws.receive_stream()  # ConnectionClosed ends the handler
        digest = hashlib.sha256()
        size = chunks = 0
        async for chunk in stream:  # one chunk per frame, as it arrives
            # str chunks for a text message, bytes for a binary one.
            data = chunk.encode() if isinstance(chunk, str) else chunk
            digest.update(data)
            size += len(data)
            chunks += 1
        kind = "text" if stream.is_text else "binary"
        await ws.send(
            f"{kind}, {chunks} chunks, {size} bytes, sha256 {digest.hexdigest()[:16]}"
        )


async def read_file(path: str) -> AsyncIterator[bytes]:
    async with await trio.open_file(path, "rb") as file:
        while chunk := await file.read(CHUNK):
            yield chunk


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "upload.bin")
        data = os.urandom(1024 * 1024)  # 1 MiB: 16 times the server's limit
        await trio.Path(path).write_bytes(data)
        async with trio.open_nursery() as nursery:
            serve = functools.partial(
                serve_websocket,
                upload_handler,
                0,
                host="127.0.0.1",
                max_message_size=LIMIT,
            )
            server = await nursery.start(serve)
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send(read_file(path))  # an async iterable: 64 frames
                print("server:", await ws.receive())
                print("local:  sha256", hashlib.sha256(data).hexdigest()[:16])
                # A plain iterable works too, for text or bytes:
                await ws.send(iter(["many ", "small ", "parts"]))
                print("server:", await ws.receive())
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
