"""Connect/reset storm: does the server's memory follow the rate of past
connections, or only the live ones?

One client (this process, blocking sockets) opens a connection, completes
the WebSocket handshake and resets it (RST), over and over, for ``--seconds``;
never more than one connection is open. The server is
``servers/echo_trio_ws_keepalive.py`` (default options: keepalive on, as a
real deployment), its own process; its RSS is read from /proc once a second.

Run: ``python benchmarks/storm.py [--seconds 30]`` (after ``pip install -e .``);
prints a table and writes ``benchmarks/results/storm.json``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "storm.json"
HANDSHAKE = (
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: {key}\r\n\r\n"
)
LINGER_RST = struct.pack("ii", 1, 0)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_connection(port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(HANDSHAKE.format(key=key).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"unexpected answer: {head[:40]!r}")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    finally:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "servers" / "echo_trio_ws_keepalive.py"),
            "--port",
            str(port),
        ],
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        time.sleep(0.5)
        start_rss = rss_kib(server.pid)
        rows = [(0.0, 0, start_rss)]
        count = 0
        start = time.monotonic()
        next_sample = start + 1
        while (now := time.monotonic()) - start < args.seconds:
            one_connection(port)
            count += 1
            if now >= next_sample:
                rows.append((now - start, count, rss_kib(server.pid)))
                next_sample += 1
        time.sleep(0.5)
        end_rss = rss_kib(server.pid)
        rows.append((time.monotonic() - start, count, end_rss))
    finally:
        server.kill()
        server.wait()
    elapsed = rows[-1][0]
    print("| t (s) | connections | server RSS (MiB) |")
    print("|---:|---:|---:|")
    for t, n, rss in [*rows[:: max(1, len(rows) // 10)], rows[-1]]:
        print(f"| {t:.0f} | {n} | {rss / 1024:.1f} |")
    rate = count / args.seconds
    growth = (end_rss - start_rss) / 1024
    print(
        f"\n{count} handshake+reset in {args.seconds:.0f} s ({rate:.0f}/s); "
        f"server RSS {start_rss / 1024:.1f} -> {end_rss / 1024:.1f} MiB "
        f"({growth:+.1f} MiB)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "connections": count,
                "seconds": args.seconds,
                "elapsed": elapsed,
                "rss_start_kib": start_rss,
                "rss_end_kib": end_rss,
                "samples": rows,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
