"""Minimal WebSocket echo on asyncio Protocols (uvloop when installed).

Not a library: just enough RFC 6455 for the benchmarks (upgrade, masked client
frames, echo, ping -> pong, close echo). It is the fixed fast server that the
client benchmarks run against, and a "client self-check" row for the load
client. No extensions; fragments are echoed frame by frame.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

from _common import HOST, MAX_MESSAGE_SIZE, run_asyncio_server

try:  # NumPy (a matplotlib dependency) unmasks large payloads ~30x faster.
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16384


def unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    if np is not None and n > 2048:
        m = np.frombuffer(mask * ((n + 3) // 4), dtype=np.uint8, count=n)
        return (np.frombuffer(data, dtype=np.uint8) ^ m).tobytes()
    key = int.from_bytes((mask * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


def header(opcode_byte: int, n: int) -> bytes:
    if n < 126:
        return bytes((opcode_byte, n))
    if n < 65536:
        return bytes((opcode_byte, 126)) + n.to_bytes(2, "big")
    return bytes((opcode_byte, 127)) + n.to_bytes(8, "big")


class WSEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = bytearray()
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.transport.close()
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            key = ""
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.upgraded = True
        pos = 0
        end = len(buf)
        out = []
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            n = b1 & 0x7F
            hdr = 2
            if n == 126:
                if end - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hdr = 4
            elif n == 127:
                if end - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if n > MAX_MESSAGE_SIZE:
                self.transport.close()
                return
            masked = b1 & 0x80
            if masked:
                hdr += 4
            if end - pos < hdr + n:
                break
            payload = bytes(buf[pos + hdr : pos + hdr + n])
            if masked:
                payload = unmask(bytes(buf[pos + hdr - 4 : pos + hdr]), payload)
            pos += hdr + n
            opcode = b0 & 0x0F
            if opcode == 8:  # close: echo it, then close TCP (server first)
                out.append(header(0x88, n) + payload)
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            if opcode == 9:  # ping -> pong
                out.append(header(0x8A, n) + payload)
            elif opcode in (0, 1, 2):
                out.append(header(b0 & 0x8F, n) + payload)
        if pos:
            del buf[:pos]
        if out:
            self.transport.write(b"".join(out))


def main() -> None:
    run_asyncio_server(
        __doc__,
        lambda port: asyncio.get_running_loop().create_server(
            WSEcho, HOST, port, backlog=4096
        ),
    )


if __name__ == "__main__":
    main()
