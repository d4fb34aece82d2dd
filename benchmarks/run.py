"""Benchmark runner: echo servers under one fixed load client, and Trio clients
against one fixed fast server. Run it with ``nox -s bench`` (``-- --quick`` for
a ~2 minute run); it writes ``benchmarks/results/latest.{json,md,png}`` and
prints the markdown table.

Layout of a run:

- every server is its own process (``servers/echo_<impl>.py --port N``) pinned
  to CPU 0 with ``taskset`` when there are 2+ CPUs; the load client
  (``loadclient.py``, blocking sockets + epoll, hand-made WebSocket) is one
  long-lived worker process pinned to CPU 1;
- per repeat, each server is started fresh, then (f) idle RSS, (e) connect +
  close, (a) ping-pong, (b) pipelined, (c) 64 KiB and 1 MiB echo, (d) 100
  concurrent connections; the server order rotates between repeats so slow
  drifts of a noisy machine spread over everyone;
- then each Trio client (``clientbench.py``) runs against the minimal asyncio
  WebSocket echo (TCP client: the asyncio TCP echo);
- everything is bounded: counts and deadlines per workload, a timeout per
  command, a total time budget, and every child process is killed in a finally.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import json
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"

# key -> how to show it; role: ceiling | test | peer | reference | selfcheck
SERVERS: dict[str, dict[str, str]] = {
    "plain_trio": {
        "label": "plain Trio TCP echo (ceiling)",
        "short": "plain Trio TCP",
        "proto": "tcp",
        "role": "ceiling",
    },
    "trio_ws": {"label": "trio_ws", "short": "trio_ws", "proto": "ws", "role": "test"},
    # trio_ws as a user gets it (keepalive on): only its idle memory differs
    # from the row above, so only (f) runs (target f').
    "trio_ws_keepalive": {
        "label": "trio_ws, default keepalive",
        "short": "trio_ws (keepalive)",
        "proto": "ws",
        "role": "variant",
        "workloads": "f",
    },
    # trio_ws with TRIO_WS_NO_EXTENSIONS=1: the pure-Python core, as where
    # no C compiler was there at install time. Every workload but (f).
    "trio_ws_pure": {
        "label": "trio_ws, pure Python",
        "short": "trio_ws (pure)",
        "proto": "ws",
        "role": "variant",
        "workloads": "a,b,c64k,c1m,d,e",
    },
    "trio_websocket": {
        "label": "trio-websocket",
        "short": "trio-websocket",
        "proto": "ws",
        "role": "peer",
    },
    "websockets_trio": {
        "label": "websockets, Trio backend",
        "short": "websockets (trio)",
        "proto": "ws",
        "role": "peer",
    },
    "websockets_asyncio": {
        "label": "websockets, asyncio backend (reference)",
        "short": "websockets (asyncio)",
        "proto": "ws",
        "role": "reference",
    },
    "picows": {
        "label": "picows on uvloop (reference)",
        "short": "picows (uvloop)",
        "proto": "ws",
        "role": "reference",
    },
    "asyncio_tcp": {
        "label": "self-check: asyncio TCP echo",
        "short": "self-check asyncio TCP",
        "proto": "tcp",
        "role": "selfcheck",
    },
    "asyncio_ws": {
        "label": "self-check: minimal asyncio WS echo",
        "short": "self-check asyncio WS",
        "proto": "ws",
        "role": "selfcheck",
    },
}
CLIENTS: dict[str, dict[str, str]] = {
    "plain_trio": {
        "label": "plain Trio TCP client (ceiling)",
        "short": "plain Trio TCP",
        "role": "ceiling",
    },
    "trio_ws": {"label": "trio_ws", "short": "trio_ws", "role": "test"},
    "trio_websocket": {
        "label": "trio-websocket",
        "short": "trio-websocket",
        "role": "peer",
    },
    "websockets_trio": {
        "label": "websockets, Trio backend",
        "short": "websockets (trio)",
        "role": "peer",
    },
}

# Per-workload bounds: every loop stops at `count` or after `seconds`.
FULL: dict[str, Any] = {
    "repeats": 4,
    "budget": 600,
    "a": {"size": 32, "count": 50_000, "seconds": 2.0, "warmup": 200},
    "b": {"size": 32, "count": 100_000, "window": 100, "seconds": 3.0},
    "c64k": {"size": 65536, "count": 5_000, "seconds": 1.5},
    "c1m": {"size": 1 << 20, "count": 500, "seconds": 2.0},
    "d": {"size": 32, "conns": 100, "count": 500_000, "seconds": 2.0},
    "e": {"count": 5_000, "seconds": 1.5},
    "f": {"conns": 1000, "size": 32},
    "client": {"seconds": 2.0, "count": 100_000, "window": 100, "connect_count": 3_000},
}
QUICK: dict[str, Any] = {
    "repeats": 3,
    "budget": 240,
    "a": {"size": 32, "count": 20_000, "seconds": 0.5, "warmup": 100},
    "b": {"size": 32, "count": 100_000, "window": 100, "seconds": 0.8},
    "c64k": {"size": 65536, "count": 2_000, "seconds": 0.4},
    "c1m": {"size": 1 << 20, "count": 200, "seconds": 0.5},
    "d": {"size": 32, "conns": 100, "count": 200_000, "seconds": 0.5},
    "e": {"count": 2_000, "seconds": 0.4},
    "f": {"conns": 1000, "size": 32},
    "client": {"seconds": 0.5, "count": 50_000, "window": 100, "connect_count": 1_000},
}
SERVER_WORKLOADS = ["f", "e", "a", "b", "c64k", "c1m", "d"]
OPS = {
    "a": "pingpong",
    "b": "pipeline",
    "c64k": "large",
    "c1m": "large",
    "d": "concurrent",
    "e": "connect",
}

DEFINITIONS = (
    "Definitions: (a) one connection, one 32-byte text message in flight, round "
    "trips/s and RTT percentiles seen by the client; (b) one connection, up to 100k "
    "32-byte messages with at most 100 in flight, echoed msgs/s; (c) one binary "
    "message of 64 KiB or 1 MiB in flight, MB/s (10^6 B) of payload echoed; (d) 100 "
    "connections with one round trip in flight each, aggregate msgs/s; (e) connect, "
    "handshake, close handshake, server's FIN (TCP: connect, FIN, server's FIN), "
    "one at a time, connections/s; (f) server VmRSS growth with 1,000 open idle "
    "connections (each did one echo), KiB per connection. For the plain TCP echo a "
    "'message' is 32 bytes of the byte stream. Throughput and latency depend on the "
    "client too: the load client is the same for every server, and the self-check "
    "rows show what it reaches against servers faster than Trio."
)

CHILDREN: list[subprocess.Popen[Any]] = []


def kill(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(3)


def kill_all() -> None:
    for proc in CHILDREN:
        kill(proc)


def pin(cpu: int, enabled: bool) -> list[str]:
    return ["taskset", "-c", str(cpu)] if enabled else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [
            int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]
        ]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return -1.0
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


class Server:
    """One echo server process; ``with Server(...) as s:`` kills it on exit."""

    def __init__(self, impl: str, pinning: bool, logdir: Path) -> None:
        self.impl = impl
        self.port = free_port()
        self.log_path = logdir / f"{impl}-{self.port}.log"
        self.log = self.log_path.open("wb")
        cmd = [
            *pin(0, pinning),
            sys.executable,
            str(HERE / "servers" / f"echo_{impl}.py"),
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
        CHILDREN.append(self.proc)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                time.sleep(0.1)  # let it finish with that probe connection
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"not listening after {timeout} s: {self.log_tail()}")

    def log_tail(self, n: int = 600) -> str:
        self.log.flush()
        return self.log_path.read_bytes()[-n:].decode(errors="replace").strip()

    def warnings(self) -> list[str]:
        text = self.log_path.read_bytes().decode(errors="replace")
        tracebacks = text.count("Traceback (most recent call last)")
        errors = sum(1 for line in text.splitlines() if "ERROR" in line)
        out = []
        if tracebacks or errors:
            out.append(
                f"server logged {tracebacks} traceback(s) and {errors} ERROR line(s) "
                f"(last lines: {text.strip()[-200:]!r})"
            )
        return out

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        kill(self.proc)
        self.log.close()


class LoadClient:
    """The load client worker: one JSON command in, one JSON result out."""

    def __init__(self, pinning: bool) -> None:
        self.pinning = pinning
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        cmd = [
            *pin(1, self.pinning),
            sys.executable,
            str(HERE / "loadclient.py"),
            "--worker",
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            start_new_session=True,
        )
        CHILDREN.append(self.proc)

    def call(self, timeout: float, **command: Any) -> dict[str, Any]:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            kill(self.proc)
            self.start()
            return {"error": f"load client gave no answer within {timeout:.0f} s"}
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc and self.proc.poll() is None and self.proc.stdin:
            try:
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        kill(self.proc)


def run_server_workloads(
    impl: str, plan: dict[str, Any], client: LoadClient, pinning: bool, logdir: Path
) -> tuple[dict[str, Any], list[str]]:
    """Start ``impl`` fresh, run each workload once, stop it.

    Raises if the server does not start. If it dies on the way, the workloads
    done so far are kept and the failing one carries the error and log tail.
    """
    proto = SERVERS[impl]["proto"]
    out: dict[str, Any] = {}
    with Server(impl, pinning, logdir) as server:
        server.wait_ready()
        port = server.port
        only = SERVERS[impl].get("workloads")
        for w in SERVER_WORKLOADS:
            if only is not None and w not in only.split(","):
                continue
            try:
                out[w] = run_one(w, plan, client, server, proto, port)
            except Exception as exc:
                out[w] = {"error": f"{type(exc).__name__}: {exc}"}
            if server.proc.poll() is not None:
                out[w] = {
                    "error": f"server died during {w}: {out[w].get('error', '')} "
                    f"log: {server.log_tail(300)}"
                }
                break
            out[w]["loadavg"] = loadavg()
        warnings = server.warnings()
    return out, warnings


def run_one(
    w: str,
    plan: dict[str, Any],
    client: LoadClient,
    server: Server,
    proto: str,
    port: int,
) -> dict[str, Any]:
    """One workload against a running server: its result or {"error": ...}."""
    params = dict(plan[w])
    pid = server.proc.pid
    if w != "f":
        timeout = params.get("seconds", 2) * 4 + 60
        return client.call(
            timeout, op=OPS[w], port=port, proto=proto, server_pid=pid, **params
        )
    # (f): warm the server up with one connection, then RSS before/after
    # opening the idle connections (each does one echo, then stays open).
    warm = client.call(
        30,
        op="pingpong",
        port=port,
        proto=proto,
        size=32,
        count=200,
        seconds=0.5,
        warmup=10,
    )
    time.sleep(0.3)
    before = rss_kib(pid)
    opened = client.call(120, op="idle_open", port=port, proto=proto, **params)
    time.sleep(0.5)
    after = rss_kib(pid)
    client.call(60, op="idle_close")
    if "error" in warm or "error" in opened:
        return {"error": warm.get("error") or opened.get("error")}
    return {
        "kib_per_conn": (after - before) / opened["opened"],
        "rss_before_kib": before,
        "rss_after_kib": after,
        "conns": opened["opened"],
        "open_seconds": opened["elapsed"],
    }


def run_client(
    impl: str, plan: dict[str, Any], ws_port: int, tcp_port: int, pinning: bool
) -> dict[str, Any]:
    p = plan["client"]
    cmd = [
        *pin(1, pinning),
        sys.executable,
        str(HERE / "clientbench.py"),
        "--impl",
        impl,
        "--ws-port",
        str(ws_port),
        "--tcp-port",
        str(tcp_port),
        "--seconds",
        str(p["seconds"]),
        "--count",
        str(p["count"]),
        "--window",
        str(p["window"]),
        "--connect-count",
        str(p["connect_count"]),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
    )
    CHILDREN.append(proc)
    try:
        stdout, stderr = proc.communicate(timeout=p["seconds"] * 3 * 5 + 120)
    except subprocess.TimeoutExpired:
        kill(proc)
        return {"error": "client benchmark timed out"}
    finally:
        kill(proc)
    lines = stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": stderr.decode(errors="replace")[-500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def versions() -> dict[str, str]:
    out = {}
    for dist in (
        "trio",
        "trio-ws",
        "trio-websocket",
        "wsproto",
        "websockets",
        "picows",
        "uvloop",
        "numpy",
        "matplotlib",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist.replace("-", "_")] = metadata.version(dist)
    return out


def core_implementation() -> str:
    """trio_ws._core.IMPLEMENTATION as the servers see it: "compiled" or
    "pure Python" (or "?")."""
    probe = "from trio_ws._core import IMPLEMENTATION; print(IMPLEMENTATION)"
    try:
        said = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return said.stdout.strip() or "?"


def git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "trio_ws"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + (" + uncommitted changes in trio_ws/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short workloads (~2 min)")
    parser.add_argument("--repeats", type=int, help="repeats (default 3)")
    parser.add_argument(
        "--budget", type=float, help="total seconds (default 600, quick 240)"
    )
    parser.add_argument(
        "--only", help="comma-separated server keys (plain_trio is added)"
    )
    parser.add_argument(
        "--no-clients", action="store_true", help="skip client benchmarks"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args()

    plan = json.loads(json.dumps(QUICK if args.quick else FULL))
    if args.repeats:
        plan["repeats"] = args.repeats
    if args.budget:
        plan["budget"] = args.budget
    cpus = os.cpu_count() or 1
    pinning = not args.no_pin and shutil.which("taskset") is not None and cpus >= 2
    impls = list(SERVERS)
    if args.only:
        wanted = {"plain_trio", *args.only.split(",")}
        impls = [i for i in impls if i in wanted]
    client_impls = [] if args.no_clients else list(CLIENTS)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    atexit.register(kill_all)
    started = time.monotonic()
    budget = plan["budget"]
    # Rough costs, for the budget: a whole server repeat is only started when
    # it fits (the previous repeat's duration is the estimate), so a short
    # budget drops whole repeats, never one implementation of a repeat.
    repeat_cost = len(impls) * (
        sum(plan[w].get("seconds", 1.5) for w in SERVER_WORKLOADS) + 4
    )
    client_cost = (
        (plan["client"]["seconds"] * 3 + 2) * len(client_impls) * plan["repeats"]
    )
    notes: list[str] = []
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"
            ),
            "mode": "quick" if args.quick else "full",
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": cpus,
            "pinning": (
                "server on CPU 0, client on CPU 1 (taskset)"
                if pinning
                else "not pinned"
            ),
            "versions": versions(),
            "trio_ws_version": versions().get("trio_ws", "?"),
            # The build of the core the trio_ws row runs (trio_ws_pure is
            # always pure Python).
            "implementation": core_implementation(),
            "git": git_state(),
            "loadavg_start": loadavg(),
            # Measured before any of our processes start: other work on the box.
            "busy_before_start": machine_busy(),
            "plan": plan,
            "client_server": "minimal asyncio WebSocket echo"
            + (" on uvloop" if "uvloop" in versions() else ""),
            "definitions": DEFINITIONS,
            "notes": notes,
        },
        "servers": {
            i: {**SERVERS[i], "available": True, "runs": {}, "warnings": []}
            for i in impls
        },
        "clients": {
            i: {**CLIENTS[i], "available": True, "runs": {}, "warnings": []}
            for i in client_impls
        },
    }
    logdir = Path(tempfile.mkdtemp(prefix="trio_ws_bench_"))
    print(
        f"bench: trio_ws core {results['meta']['implementation']}; "
        f"{len(impls)} servers, {len(client_impls)} clients, "
        f"{plan['repeats']} repeats, budget {budget:.0f} s, pinning={pinning}, "
        f"logs in {logdir}",
        flush=True,
    )
    client = LoadClient(pinning)
    repeats_done = 0
    try:
        for r in range(plan["repeats"]):
            repeat_start = time.monotonic()
            if r and repeat_start - started + repeat_cost + client_cost > budget:
                notes.append(
                    f"time budget ({budget:.0f} s): server repeats stopped after {r}"
                )
                break
            order = impls[r % len(impls) :] + impls[: r % len(impls)]
            for impl in order:
                entry = results["servers"][impl]
                if not entry["available"]:
                    continue
                if time.monotonic() - started > budget:  # hard stop
                    notes.append(f"time budget reached: repeat {r + 1} of {impl}")
                    continue
                t0 = time.monotonic()
                try:
                    runs, warnings = run_server_workloads(
                        impl, plan, client, pinning, logdir
                    )
                except Exception as exc:
                    # Not installed, or broken right now (the library may be
                    # mid-edit): retry next repeat; give up after two misses
                    # with no data at all.
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                    entry["warnings"].append(f"repeat {r + 1}: {entry['error']}")
                    entry["failures"] = entry.get("failures", 0) + 1
                    if entry["failures"] >= 2 and not entry["runs"]:
                        entry["available"] = False
                    print(
                        f"  [{r + 1}] {impl}: did not start: {entry['error'][:300]}",
                        flush=True,
                    )
                    continue
                for w, res in runs.items():
                    entry["runs"].setdefault(w, []).append(res)
                    if "error" in res:
                        entry["warnings"].append(f"repeat {r + 1} {w}: {res['error']}")
                    if res.get("missing_close_frames"):
                        entry["warnings"].append(
                            f"repeat {r + 1} {w}: the server closed TCP without its "
                            f"close frame on {res['missing_close_frames']} of "
                            f"{res['count']} "
                            "connections"
                        )
                entry["warnings"].extend(f"repeat {r + 1}: {w}" for w in warnings)
                brief = ", ".join(f"{w}={_headline(res)}" for w, res in runs.items())
                print(
                    f"  [{r + 1}] {impl:<19} {time.monotonic() - t0:5.1f} s  {brief}",
                    flush=True,
                )
            repeats_done = r + 1
            repeat_cost = time.monotonic() - repeat_start
        client.close()

        if client_impls:
            with (
                Server("asyncio_ws", pinning, logdir) as ws_server,
                Server("asyncio_tcp", pinning, logdir) as tcp_server,
            ):
                ws_server.wait_ready()
                tcp_server.wait_ready()
                for r in range(plan["repeats"]):
                    order = (
                        client_impls[r % len(client_impls) :]
                        + client_impls[: r % len(client_impls)]
                    )
                    for impl in order:
                        if time.monotonic() - started > budget:
                            notes.append(
                                f"time budget reached: client {impl} repeat {r + 1}"
                            )
                            continue
                        t0 = time.monotonic()
                        res = run_client(
                            impl, plan, ws_server.port, tcp_server.port, pinning
                        )
                        entry = results["clients"][impl]
                        if "error" in res:
                            entry["warnings"].append(f"repeat {r + 1}: {res['error']}")
                            continue
                        for w, wres in res.items():
                            entry["runs"].setdefault(w, []).append(wres)
                            if "error" in wres:
                                entry["warnings"].append(
                                    f"repeat {r + 1} {w}: {wres['error']}"
                                )
                        brief = ", ".join(f"{w}={_headline(x)}" for w, x in res.items())
                        print(
                            f"  [{r + 1}] client {impl:<16} "
                            f"{time.monotonic() - t0:5.1f} s  {brief}",
                            flush=True,
                        )
    finally:
        client.close()
        kill_all()

    meta = results["meta"]
    meta["repeats_done"] = repeats_done
    meta["loadavg_end"] = loadavg()
    meta["busy_after_end"] = machine_busy()
    meta["wall_seconds"] = time.monotonic() - started
    summary = report.summarise(results)
    results["summary"] = summary
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    md = report.markdown(results, summary)
    args.out.with_suffix(".md").write_text(md)
    try:
        report.chart(results, summary, args.out.with_suffix(".png"))
    except ImportError as exc:  # no matplotlib: tables only
        print(f"no chart: {exc}")
    print()
    print(md)
    print(f"wrote {args.out} and its .md and .png in {meta['wall_seconds']:.0f} s")
    if any(
        e["warnings"] or not e["available"]
        for side in ("servers", "clients")
        for e in results[side].values()
    ):
        print(f"server logs kept in {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)


def _headline(res: dict[str, Any]) -> str:
    if "error" in res:
        return "ERROR"
    for field, fmt in (
        ("msgs_per_s", "{:.0f}/s"),
        ("mb_per_s", "{:.0f}MB/s"),
        ("conns_per_s", "{:.0f}/s"),
        ("kib_per_conn", "{:.1f}KiB"),
    ):
        if field in res:
            return fmt.format(res[field])
    return "?"


if __name__ == "__main__":
    main()
