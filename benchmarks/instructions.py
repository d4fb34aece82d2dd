"""Instructions the trio_ws echo server executes per message and per
connection, counted by callgrind (repeatable, unlike wall-clock time).

    python benchmarks/instructions.py [--messages 1000] [--connections 100]
        [--pipelined 10000] [--repeat 1]
    python benchmarks/instructions.py --big 1048576 [--big-messages 10]
    python benchmarks/instructions.py --keep /tmp/cg   # keep callgrind's files
    PYTHONPATH=/path/to/other/checkout python benchmarks/instructions.py

Runs the server (this file's ``serve``: trio_ws's echo, keepalive and
compression off, as in benchmarks/servers/echo_trio_ws.py) under
``valgrind --tool=callgrind`` six times per repeat, driven by a blocking
client in this process:

- one connection with 100 round trips of a 32-byte text message, and one
  with 100 + ``--messages``: the difference divided by ``--messages`` is
  the cost of one echoed message;
- 1 and 1 + ``--connections`` connections doing connect, upgrade and
  close, with no message: the difference divided by ``--connections`` is
  the cost of one connection (handshake, close, the server's bookkeeping);
- one connection with 1,000 and one with 1,000 + ``--pipelined`` messages
  sent as workload (b) sends them (at most 100 in flight, more sent as
  replies come): the cost of one pipelined message.

With ``--big SIZE``, instead: one connection echoing 2 and 2 +
``--big-messages`` masked binary messages of SIZE bytes each (workload
(c) of benchmarks/run.py); the difference divided by ``--big-messages``
is the cost of one large echo. Callgrind counts instructions, not memory
traffic: a copy made by memcpy counts far less than its time, and the
kernel's share of a read or write is not counted at all.

Startup and import costs cancel out in the differences. Prints the
numbers and which trio_ws it measured (PYTHONPATH picks another checkout).
Needs valgrind. Not part of the tests.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
BASE_MESSAGES = 100
# A masked 32-byte text frame (zero mask: the payload is sent as it is).
MESSAGE = b"m" * 32
FRAME = bytes([0x81, 0x80 | len(MESSAGE)]) + b"\0\0\0\0" + MESSAGE
# The masking key of the large messages (--big).
BIG_KEY = b"\x37\xfa\x21\x3d"
CLOSE = bytes([0x88, 0x82]) + b"\0\0\0\0" + (1000).to_bytes(2, "big")
REQUEST = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: {key}\r\n\r\n"
)


def serve(port_file: str) -> None:
    """The measured server: echo; a connection to /quit stops it cleanly
    (so callgrind writes its counts)."""
    import trio

    import trio_ws

    async def main() -> None:
        async with trio.open_nursery() as nursery:

            async def echo(ws: trio_ws.WebSocket) -> None:
                if ws.request is not None and ws.request.path == "/quit":
                    nursery.cancel_scope.cancel()
                    return
                async for message in ws:
                    await ws.send(message)

            server = await nursery.start(
                lambda task_status: trio_ws.serve_websocket(
                    echo,
                    0,
                    host=HOST,
                    ping_interval=None,
                    compression=None,
                    max_message_size=64 << 20,
                    task_status=task_status,
                )
            )
            await trio.Path(port_file).write_text(str(server.port))

    trio.run(main)


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


@contextlib.contextmanager
def upgraded(port: int) -> Iterator[socket.socket]:
    """A connection to the server, upgraded; on leaving, the close
    handshake, then the wait for the server's FIN."""
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(REQUEST.format(path="/", key=key).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += receive_exactly(sock, 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        yield sock
        sock.sendall(CLOSE)
        while sock.recv(65536):
            pass  # the server's close frame, then its FIN


def connection(port: int, messages: int) -> None:
    """Upgrade, ``messages`` round trips, close handshake, wait for FIN."""
    with upgraded(port) as sock:
        for _ in range(messages):
            sock.sendall(FRAME)
            assert receive_exactly(sock, 2 + len(MESSAGE))[2:] == MESSAGE


def pipelined_connection(port: int, messages: int, window: int = 100) -> None:
    """Upgrade, ``messages`` echoes with at most ``window`` in flight (new
    ones sent as replies arrive, as benchmarks/loadclient.py does), close."""
    with upgraded(port) as sock:
        reply = 2 + len(MESSAGE)
        sent = received = 0
        buffer = bytearray(1 << 18)
        while received < messages * reply:
            room = window - (sent - received // reply)
            if room > 0 and sent < messages:
                count = min(room, messages - sent)
                sock.sendall(FRAME * count)
                sent += count
            size = sock.recv_into(buffer)
            if not size:
                raise ConnectionError("the server closed the connection")
            received += size


def big_frame(size: int) -> tuple[bytes, bytes]:
    """A masked binary frame of ``size`` bytes, and the echo expected."""
    payload = os.urandom(size)
    if size < 126:
        length = bytes([0x80 | size])
        plain_length = bytes([size])
    elif size < 65536:
        length = bytes([0x80 | 126]) + size.to_bytes(2, "big")
        plain_length = bytes([126]) + size.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + size.to_bytes(8, "big")
        plain_length = bytes([127]) + size.to_bytes(8, "big")
    repeated = (BIG_KEY * (size // 4 + 1))[:size]
    masked = (
        int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    ).to_bytes(size, "little")
    return b"\x82" + length + BIG_KEY + masked, b"\x82" + plain_length + payload


def big_connection(port: int, size: int, messages: int) -> None:
    """Upgrade, ``messages`` echoes of a ``size``-byte binary message, close."""
    frame, echo = big_frame(size)
    with upgraded(port) as sock:
        for _ in range(messages):
            sock.sendall(frame)
            assert receive_exactly(sock, len(echo)) == echo


def stop(port: int) -> None:
    """Ask the server to exit (it drops every connection at once)."""
    with socket.create_connection((HOST, port)) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(REQUEST.format(path="/quit", key=key).encode())
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass


def measure(
    connections: int,
    messages: int,
    big: int = 0,
    *,
    pipelined: bool = False,
    keep: Path | None = None,
) -> int:
    """Instructions of one server run: ``connections`` connections, each
    with ``messages`` round trips (of ``big``-byte binary messages if
    ``big``, else of the 32-byte text message; pipelined, as workload (b)
    sends them, if ``pipelined``). ``keep``: copy callgrind's output file
    there (for ``callgrind_annotate --inclusive=yes``)."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        server = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "serve",
                str(port_file),
            ],
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            deadline = time.monotonic() + 300
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server under callgrind did not start")
                time.sleep(0.1)
            port = int(port_file.read_text())
            for _ in range(connections):
                if big:
                    big_connection(port, big, messages)
                elif pipelined:
                    pipelined_connection(port, messages)
                else:
                    connection(port, messages)
            stop(port)
            server.wait(timeout=300)
        finally:
            if server.poll() is None:
                server.kill()
        if keep is not None:
            shutil.copyfile(out, keep)
        match = re.search(r"^summary:\s*(\d+)", out.read_text(), re.MULTILINE)
        assert match, "no summary line in callgrind's output"
        return int(match.group(1))


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--pipelined", type=int, default=10000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each pair (median shown)"
    )
    parser.add_argument(
        "--big",
        type=int,
        default=0,
        metavar="SIZE",
        help="measure only echoes of SIZE-byte binary messages",
    )
    parser.add_argument(
        "--big-messages",
        type=int,
        default=10,
        help="large messages in the longer run (with --big)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep callgrind's output files in DIR (one per run, named "
        "by connections and messages), for callgrind_annotate --inclusive=yes",
    )
    args = parser.parse_args()
    import trio_ws

    def kept(connections: int, messages: int, kind: str = "m") -> Path | None:
        if args.keep is None:
            return None
        args.keep.mkdir(parents=True, exist_ok=True)
        return args.keep / f"callgrind.{connections}c.{messages}{kind}.out"

    print(f"trio_ws from {Path(trio_ws.__file__).parent}", flush=True)
    if args.big:
        per_big = []
        for _ in range(args.repeat):
            few = measure(1, 2, args.big)
            many = measure(1, 2 + args.big_messages, args.big)
            per_big.append((many - few) / args.big_messages)
        runs = ", ".join(f"{value:,.0f}" for value in per_big)
        print(
            f"instructions per echoed {args.big:,}-byte binary message: "
            f"median {statistics.median(per_big):,.0f} ({runs})",
            flush=True,
        )
        return
    per_message, per_connection, per_pipelined = [], [], []
    for _ in range(args.repeat):
        few = measure(1, BASE_MESSAGES, keep=kept(1, BASE_MESSAGES))
        many = measure(
            1,
            BASE_MESSAGES + args.messages,
            keep=kept(1, BASE_MESSAGES + args.messages),
        )
        per_message.append((many - few) / args.messages)
        one = measure(1, 0, keep=kept(1, 0))
        more = measure(1 + args.connections, 0, keep=kept(1 + args.connections, 0))
        per_connection.append((more - one) / args.connections)
        few = measure(1, 1000, pipelined=True, keep=kept(1, 1000, "p"))
        many = measure(
            1,
            1000 + args.pipelined,
            pipelined=True,
            keep=kept(1, 1000 + args.pipelined, "p"),
        )
        per_pipelined.append((many - few) / args.pipelined)
    for label, values in (
        ("per echoed 32-byte message", per_message),
        ("per connect+upgrade+close", per_connection),
        ("per pipelined 32-byte message", per_pipelined),
    ):
        runs = ", ".join(f"{value:,.0f}" for value in values)
        print(
            f"instructions {label}: median {statistics.median(values):,.0f} ({runs})",
            flush=True,
        )


if __name__ == "__main__":
    main()
