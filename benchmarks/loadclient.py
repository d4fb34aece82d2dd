"""The fixed load client: blocking sockets and epoll, minimal WebSocket, no library.

It must never be the bottleneck, so it does as little as possible per message:

- the upgrade request is hand-built (fixed key), the 101 head is skipped after a
  status check;
- every frame it sends is pre-built once, masked with a fixed key (a 32-byte
  text frame, a 64 KiB / 1 MiB binary frame, a close frame), so sending costs
  one ``sendall``;
- server frames are checked, not parsed in general: an echo server answers each
  message with exactly one unmasked frame, so the client reads exactly the
  expected byte count and checks the header bytes (2-byte header + 16/64-bit
  length) at every message boundary. Anything else is an error, not a number.

For the plain TCP echo the same code sends the raw payload and counts bytes
(a "message" is ``size`` bytes).

It runs as a worker process (``--worker``): one JSON command per line on stdin,
one JSON result per line on stdout, so state (the 1,000 idle connections of
workload f) survives between commands. Every operation is bounded by a count
and a deadline. ``benchmarks/run.py`` drives it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import socket
import sys
import time
from array import array
from typing import Any

HOST = "127.0.0.1"
MASK = b"\x5a\xa5\x3c\xc3"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3's example key
CONNECT_TIMEOUT = 10.0  # seconds for one connect + handshake
PAYLOAD_TEXT = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def mask_bytes(payload: bytes, mask: bytes = MASK) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def frame_header(first_byte: int, n: int, masked: bool) -> bytes:
    bit = 0x80 if masked else 0
    if n < 126:
        return bytes((first_byte, bit | n))
    if n < 65536:
        return bytes((first_byte, bit | 126)) + n.to_bytes(2, "big")
    return bytes((first_byte, bit | 127)) + n.to_bytes(8, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame (RFC 6455 5.2), built once."""
    return frame_header(0x80 | opcode, len(payload), True) + MASK + mask_bytes(payload)


def payload_for(size: int, binary: bool) -> bytes:
    if binary:
        return bytes(i * 7 & 0xFF for i in range(size))
    reps = size // len(PAYLOAD_TEXT) + 1
    return (PAYLOAD_TEXT * reps)[:size]


class Message:
    """What one echoed message looks like on the wire, for ``proto``."""

    def __init__(self, proto: str, size: int, binary: bool = False) -> None:
        self.proto = proto
        self.size = size
        self.payload = payload_for(size, binary)
        opcode = 2 if binary else 1
        if proto == "ws":
            self.out = client_frame(opcode, self.payload)
            self.reply_header = frame_header(0x80 | opcode, size, False)
        else:
            self.out = self.payload
            self.reply_header = b""
        self.reply_len = len(self.reply_header) + size  # bytes per echoed message

    def check_reply(self, data: bytes | bytearray | memoryview, full: bool) -> None:
        h = self.reply_header
        if h and bytes(data[: len(h)]) != h:
            raise RuntimeError(
                f"unexpected frame header {bytes(data[:10])!r}, wanted {h!r}"
            )
        if full and bytes(data[len(h) : self.reply_len]) != self.payload:
            raise RuntimeError("echoed payload differs from what was sent")


def upgrade_request(port: int) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: "
        f"{KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


CLOSE_FRAME = client_frame(8, (1000).to_bytes(2, "big"))


def read_head(sock: socket.socket) -> bytes:
    """Read the HTTP response head; check 101; return bytes read past it."""
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("server closed during the handshake")
        buf += chunk
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            if not buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {buf[:80]!r}")
            return buf[end + 4 :]
        if len(buf) > 65536:
            raise RuntimeError("response head too long")


def open_conn(port: int, proto: str) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if proto == "ws":
        sock.sendall(upgrade_request(port))
        if read_head(sock):
            raise RuntimeError("server sent data right after the 101")
    return sock


def recv_exact(sock: socket.socket, view: memoryview, n: int) -> None:
    got = 0
    while got < n:
        k = sock.recv_into(view[got:n])
        if not k:
            raise RuntimeError("server closed the connection")
        got += k


def drain_to_eof(sock: socket.socket, timeout: float) -> None:
    """Read and drop until the server closes (it closes TCP first: RFC 6455 7.1.1)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except (TimeoutError, OSError):
        pass


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` (ns, from /proc/PID/task/*/schedstat)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1
    return total


class CpuWindow:
    """CPU used by the server and by this client during the timed part only.

    Wall-clock rates suffer from a shared, noisy machine; CPU per operation
    much less so, and it shows who is busy: a client far from 100% busy is
    not the bottleneck.
    """

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.server0 = cpu_ns(server_pid) if server_pid else -1
        self.client0 = time.process_time()

    def result(self, ops: int, elapsed: float) -> dict[str, float]:
        client = time.process_time() - self.client0
        out = {
            "client_cpu_s": client,
            "client_busy": client / elapsed,
            "client_cpu_us_per_op": client * 1e6 / max(ops, 1),
        }
        if self.server0 >= 0:
            end = cpu_ns(self.pid)
            if end >= 0:
                server = (end - self.server0) / 1e9
                out.update(
                    server_cpu_s=server,
                    server_busy=server / elapsed,
                    server_cpu_us_per_op=server * 1e6 / max(ops, 1),
                )
        return out


# --------------------------------------------------------------------- workloads


def op_pingpong(
    port: int,
    proto: str,
    size: int,
    count: int,
    seconds: float,
    warmup: int,
    server_pid: int = 0,
) -> dict[str, Any]:
    """(a) one connection, one message in flight: msgs/s and RTT percentiles."""
    msg = Message(proto, size)
    sock = open_conn(port, proto)
    try:
        rbuf = bytearray(msg.reply_len)
        view = memoryview(rbuf)
        out, n = msg.out, msg.reply_len
        sendall, clock = sock.sendall, time.perf_counter_ns
        for i in range(warmup):
            sendall(out)
            recv_exact(sock, view, n)
            msg.check_reply(rbuf, full=(i == 0))
        rtts = array("q")
        append = rtts.append
        hdr = msg.reply_header
        deadline = clock() + int(seconds * 1e9)
        cpu = CpuWindow(server_pid)
        start = clock()
        done = 0
        while done < count:
            t0 = clock()
            sendall(out)
            recv_exact(sock, view, n)
            t1 = clock()
            append(t1 - t0)
            done += 1
            if hdr and rbuf[0] != hdr[0]:
                msg.check_reply(rbuf, full=False)
            if t1 > deadline:
                break
        elapsed = (clock() - start) / 1e9
        usage = cpu.result(done, elapsed)
        close_ws(sock, proto)
    finally:
        sock.close()
    ordered = sorted(rtts)
    return {
        "msgs_per_s": done / elapsed,
        "p50_us": ordered[len(ordered) // 2] / 1000,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000,
        "count": done,
        "elapsed": elapsed,
        **usage,
    }


def close_ws(sock: socket.socket, proto: str, timeout: float = 2.0) -> None:
    """Polite close: a close frame for WebSocket, FIN for TCP; wait for EOF."""
    try:
        if proto == "ws":
            sock.sendall(CLOSE_FRAME)
        else:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    drain_to_eof(sock, timeout)


def op_pipeline(
    port: int,
    proto: str,
    size: int,
    count: int,
    window: int,
    seconds: float,
    server_pid: int = 0,
) -> dict[str, Any]:
    """(b) one connection, ``count`` messages, at most ``window`` in flight."""
    msg = Message(proto, size)
    sock = open_conn(port, proto)
    try:
        out = msg.out
        per = len(out)
        blob = memoryview(out * window)
        m = msg.reply_len
        hdr0 = msg.reply_header[0] if msg.reply_header else -1
        rbuf = bytearray(1 << 18)
        view = memoryview(rbuf)
        # warm-up round: one window, checked byte for byte
        sock.sendall(blob)
        recv_exact(sock, memoryview(bytearray(m * window)), m * window)
        sent = received = 0
        phase = 0  # bytes already received of the current message
        clock = time.perf_counter
        cpu = CpuWindow(server_pid)
        start = clock()
        deadline = start + seconds
        while received < count:
            room = window - (sent - received)
            if room > 0 and sent < count:
                k = min(room, count - sent)
                sock.sendall(blob[: k * per])
                sent += k
            n = sock.recv_into(view)
            if not n:
                raise RuntimeError("server closed the connection")
            if hdr0 >= 0:
                off = (m - phase) % m
                while off < n:
                    if rbuf[off] != hdr0:
                        msg.check_reply(view[off:n], full=False)
                        raise RuntimeError("frame boundary lost")
                    off += m
            total = phase + n
            received += total // m
            phase = total % m
            if clock() > deadline:
                break
        elapsed = clock() - start
        usage = cpu.result(received, elapsed)
        # Let the in-flight echoes arrive before closing (bounded).
        inflight_bytes = (sent - received) * m - phase
        sock.settimeout(5.0)
        try:
            while inflight_bytes > 0:
                k = sock.recv_into(view)
                if not k:
                    break
                inflight_bytes -= k
        except OSError:
            pass
        close_ws(sock, proto)
    finally:
        sock.close()
    return {
        "msgs_per_s": received / elapsed,
        "count": received,
        "elapsed": elapsed,
        **usage,
    }


def op_large(
    port: int, proto: str, size: int, count: int, seconds: float, server_pid: int = 0
) -> dict[str, Any]:
    """(c) echo of one big binary message at a time: MB/s (10^6 B of payload)."""
    msg = Message(proto, size, binary=True)
    sock = open_conn(port, proto)
    try:
        sock.setblocking(False)
        out = memoryview(msg.out)
        m = msg.reply_len
        rbuf = bytearray(m)
        rview = memoryview(rbuf)

        def one() -> None:
            sent = got = 0
            while got < m:
                progressed = False
                if sent < len(out):
                    try:
                        sent += sock.send(out[sent : sent + (1 << 20)])
                        progressed = True
                    except BlockingIOError:
                        pass
                try:
                    k = sock.recv_into(rview[got:])
                    if not k:
                        raise RuntimeError("server closed the connection")
                    got += k
                    progressed = True
                except BlockingIOError:
                    pass
                if not progressed:
                    w = [sock] if sent < len(out) else []
                    r, wr, _ = select.select([sock], w, [], 10.0)
                    if not r and not wr:
                        raise RuntimeError("no progress for 10 s")

        one()
        msg.check_reply(rbuf, full=True)
        cpu = CpuWindow(server_pid)
        start = time.perf_counter()
        deadline = start + seconds
        done = 0
        while done < count:
            one()
            done += 1
            if msg.reply_header and rbuf[0] != msg.reply_header[0]:
                msg.check_reply(rbuf, full=False)
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        usage = cpu.result(done, elapsed)
        sock.setblocking(True)
        close_ws(sock, proto)
    finally:
        sock.close()
    return {
        "mb_per_s": done * size / elapsed / 1e6,
        "count": done,
        "elapsed": elapsed,
        **usage,
    }


def op_concurrent(
    port: int,
    proto: str,
    size: int,
    conns: int,
    count: int,
    seconds: float,
    server_pid: int = 0,
) -> dict[str, Any]:
    """(d) ``conns`` connections, one round trip in flight on each."""
    msg = Message(proto, size)
    socks: list[socket.socket] = []
    ep = select.epoll()
    try:
        for _ in range(conns):
            socks.append(open_conn(port, proto))
        out, m = msg.out, msg.reply_len
        hdr0 = msg.reply_header[0] if msg.reply_header else -1
        byfd = {}
        got = {}
        for s in socks:
            s.setblocking(False)
            byfd[s.fileno()] = s
            got[s.fileno()] = 0
            ep.register(s.fileno(), select.EPOLLIN)
        rbuf = bytearray(65536)
        view = memoryview(rbuf)

        def run(total: int, deadline: float) -> int:
            for s in socks:
                s.sendall(out)
            done = 0
            outstanding = len(socks)
            while outstanding:
                events = ep.poll(5.0)
                if not events:
                    raise RuntimeError("no echo for 5 s")
                for fd, _ in events:
                    s = byfd[fd]
                    k = s.recv_into(view)
                    if not k:
                        raise RuntimeError("server closed a connection")
                    if got[fd] == 0 and hdr0 >= 0 and rbuf[0] != hdr0:
                        msg.check_reply(view[:k], full=False)
                    g = got[fd] + k
                    if g < m:
                        got[fd] = g
                        continue
                    if g > m:
                        raise RuntimeError("more bytes than one echo")
                    got[fd] = 0
                    done += 1
                    outstanding -= 1
                    if done + outstanding < total and time.perf_counter() < deadline:
                        s.send(out)  # 34 bytes on an idle socket: always whole
                        outstanding += 1
            return done

        run(conns * 5, time.perf_counter() + 10.0)  # warm-up
        cpu = CpuWindow(server_pid)
        start = time.perf_counter()
        done = run(count, start + seconds)
        elapsed = time.perf_counter() - start
        usage = cpu.result(done, elapsed)
        for s in socks:
            s.setblocking(True)
        close_all(socks, proto, 5.0)
    finally:
        ep.close()
        for s in socks:
            s.close()
    return {"msgs_per_s": done / elapsed, "count": done, "elapsed": elapsed, **usage}


def op_connect(
    port: int, proto: str, count: int, seconds: float, server_pid: int = 0
) -> dict[str, Any]:
    """(e) connect + handshake + close, one at a time: connections/s.

    TCP: connect, FIN, wait for the server's FIN. WebSocket: connect, upgrade,
    101, close frame, the server's close frame, wait for the server's FIN.
    """
    request = upgrade_request(port)
    addr = (HOST, port)

    def one() -> int:
        """1 if the server closed TCP without its close frame (counted, not fatal)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(CONNECT_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect(addr)
            if proto == "ws":
                s.sendall(request)
                rest = read_head(s)
                s.sendall(CLOSE_FRAME)
                while len(rest) < 2:
                    chunk = s.recv(4096)
                    if not chunk:
                        return 1
                    rest += chunk
                if rest[0] != 0x88:
                    raise RuntimeError(f"wanted a close frame, got {rest[:8]!r}")
            else:
                s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
            return 0
        finally:
            s.close()

    for _ in range(20):
        one()
    cpu = CpuWindow(server_pid)
    start = time.perf_counter()
    deadline = start + seconds
    done = missing = 0
    while done < count:
        missing += one()
        done += 1
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    return {
        "conns_per_s": done / elapsed,
        "count": done,
        "elapsed": elapsed,
        "missing_close_frames": missing,
        **cpu.result(done, elapsed),
    }


IDLE: list[socket.socket] = []
IDLE_PROTO = ["tcp"]


def op_idle_open(port: int, proto: str, conns: int, size: int) -> dict[str, Any]:
    """(f) open ``conns`` connections, one echo on each, and hold them open."""
    op_idle_close()
    msg = Message(proto, size)
    IDLE_PROTO[0] = proto
    rbuf = bytearray(msg.reply_len)
    view = memoryview(rbuf)
    start = time.perf_counter()
    for _ in range(conns):
        s = open_conn(port, proto)
        IDLE.append(s)
        s.sendall(msg.out)
        recv_exact(s, view, msg.reply_len)
        msg.check_reply(rbuf, full=True)
    return {"opened": len(IDLE), "elapsed": time.perf_counter() - start}


def close_all(socks: list[socket.socket], proto: str, seconds: float) -> None:
    """Start every closing handshake, then wait (bounded) for each server FIN."""
    for s in socks:
        try:
            if proto == "ws":
                s.sendall(CLOSE_FRAME)
            else:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    deadline = time.perf_counter() + seconds
    for s in socks:
        drain_to_eof(s, max(0.01, min(1.0, deadline - time.perf_counter())))


def op_idle_close() -> dict[str, Any]:
    socks = list(IDLE)
    IDLE.clear()
    try:
        close_all(socks, IDLE_PROTO[0], 10.0)
    finally:
        for s in socks:
            s.close()
    return {"closed": len(socks)}


OPS = {
    "pingpong": op_pingpong,
    "pipeline": op_pipeline,
    "large": op_large,
    "concurrent": op_concurrent,
    "connect": op_connect,
    "idle_open": op_idle_open,
    "idle_close": op_idle_close,
}


def worker() -> None:
    raise_nofile()
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            break
        try:
            result = OPS[op](**command)
        except Exception as exc:  # reported to the runner, which decides
            result = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    op_idle_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help="JSON lines on stdio")
    parser.add_argument("--op", help="one operation, e.g. pingpong (for debugging)")
    parser.add_argument("--port", type=int)
    parser.add_argument("--proto", default="ws", choices=["ws", "tcp"])
    parser.add_argument("--args", default="{}", help="JSON keyword arguments")
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    raise_nofile()
    kwargs = json.loads(args.args)
    if args.op not in ("idle_close",):
        kwargs.update(port=args.port, proto=args.proto)
    print(json.dumps(OPS[args.op](**kwargs)))


if __name__ == "__main__":
    main()
