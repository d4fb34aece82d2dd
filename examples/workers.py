"""Scale-out: N worker processes serve one chat room on one port.

    python examples/workers.py --redis redis://127.0.0.1:6379/0 \
        [--workers N] [--host 127.0.0.1] [--port 8000]

Every worker runs ``serve_websocket(..., reuse_port=True)`` on the same port,
and the kernel spreads the connections among them (SO_REUSEPORT: Linux;
elsewhere serve_websocket raises ReusePortUnavailable). A chat message sent
to one worker reaches the clients of every worker through Redis (or Valkey)
pub/sub (``trio_ws.pubsub.redis``, the ``redis`` extra), the same broker that
lets processes on other hosts join the room. Each client's first message
names its worker's pid. ``GET /`` serves the chat page of ``chat_server.py``.

Each worker tells the parent it is serving with a line on its standard
output, and stops when its standard input (a pipe from the parent) ends, so
no worker outlives the parent. Ctrl-C or SIGTERM (to the parent): each worker
stops accepting, closes its connections with 1001 and exits; the parent exits
once they all have.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys

import trio
from chat_server import MAX_LINE, process_request

from trio_ws import ConnectionClosed, PubSub, Subscription, WebSocket, serve_websocket

logger = logging.getLogger("workers")

ROOM = "chat"

# Seconds the parent waits for every worker to be serving before giving up
# (each is a fresh interpreter importing trio).
STARTUP_TIMEOUT = 30.0

# Seconds a worker gets between SIGTERM and SIGKILL: its connections' closing
# handshakes take up to close_timeout (10 s by default), plus a margin.
STOP_GRACE = 15.0

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Room:
    """One worker's share of the chat room: its clients, fed by the pub/sub."""

    def __init__(self, pubsub: PubSub) -> None:
        self.pubsub = pubsub
        self.pid = os.getpid()
        self._numbers = itertools.count(1)

    async def handler(self, ws: WebSocket) -> None:
        name = f"guest{next(self._numbers)}@{self.pid}"
        async with self.pubsub.subscribe(ROOM) as subscription:
            # Sent before forwarding starts, so it is always the first message.
            welcome = f"* welcome {name}: worker pid {self.pid}"
            forwarded = forwarded_for(ws)
            if forwarded is not None:
                welcome += f" (via a proxy, for {forwarded})"
            await ws.send(welcome)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._forward, subscription, ws)
                await self.pubsub.publish(ROOM, f"* {name} joined")
                # Caught here: leaving the nursery would wrap it in a group.
                with contextlib.suppress(ConnectionClosed):
                    async for message in ws:
                        if isinstance(message, str):
                            line = f"{name}: {message[:MAX_LINE]}"
                            await self.pubsub.publish(ROOM, line)
                nursery.cancel_scope.cancel()

    @staticmethod
    async def _forward(subscription: Subscription, ws: WebSocket) -> None:
        reported = 0
        try:
            async for message in subscription:
                if subscription.dropped != reported:
                    lost = subscription.dropped - reported
                    reported = subscription.dropped
                    await ws.send(f"* you were too slow: {lost} messages skipped")
                await ws.send(message)
        except ConnectionClosed:
            pass  # the handler's `async for` sees the close too


def forwarded_for(ws: WebSocket) -> str | None:
    """The client's address as reported by a reverse proxy, if any.

    Behind a proxy ``ws.remote`` is the proxy. X-Forwarded-For lists the
    addresses each proxy saw; the last one was appended by the proxy next to
    us, the only one to trust (a client can send any value in the header).
    """
    header = ws.request.get("X-Forwarded-For") if ws.request is not None else None
    if not header:
        return None
    return header.rsplit(",", 1)[-1].strip()


# What a worker prints once it serves; the parent waits for it from each.
READY = b"ready\n"


async def worker(redis_url: str, host: str, port: int) -> None:
    """One worker: serve until SIGINT/SIGTERM, or until the parent is gone."""
    from trio_ws.pubsub.redis import open_redis_pubsub

    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        stop = trio.Event()

        async def watch_parent() -> None:
            # The parent holds our stdin's other end: EOF means it is gone.
            async with trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as stdin:
                while await stdin.receive_some():
                    pass
            stop.set()

        async def on_signal() -> None:
            async for _ in signals:
                stop.set()
                return

        async with (
            open_redis_pubsub(redis_url) as pubsub,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(watch_parent)
            nursery.start_soon(on_signal)
            server = await nursery.start(
                functools.partial(
                    serve_websocket,
                    Room(pubsub).handler,
                    port,
                    host=host,
                    reuse_port=True,
                    process_request=process_request,
                )
            )
            logger.info("worker %d serving on port %d", os.getpid(), server.port)
            sys.stdout.buffer.write(READY)
            sys.stdout.flush()
            await stop.wait()
            await server.aclose()  # every client gets 1001
            nursery.cancel_scope.cancel()


async def stop_worker(process: trio.Process) -> None:
    """SIGTERM, then SIGKILL if the worker is still there after STOP_GRACE."""
    process.send_signal(signal.SIGTERM)
    with trio.move_on_after(STOP_GRACE):
        await process.wait()
    if process.returncode is None:
        logger.warning("worker %d did not stop in time: killing it", process.pid)
        process.kill()
        await process.wait()


def reserve_port(host: str) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket holding a free port.

    With --port 0 the parent picks the port so every worker joins the same
    group; the kernel never hands connections to a socket that is not
    listening.
    """
    family, type_, proto, _, address = socket.getaddrinfo(
        host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, type_, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


async def wait_ready(process: trio.Process) -> None:
    """Read the worker's stdout until it says it serves."""
    assert process.stdout is not None
    said = b""
    while READY not in said:
        chunk = await process.stdout.receive_some()
        if not chunk:
            raise RuntimeError(f"worker {process.pid} exited before serving")
        said += chunk


async def parent(count: int, redis_url: str, host: str, port: int) -> int:
    """Start the workers; stop them all on SIGINT/SIGTERM.

    Returns:
        The exit status: 0 after a signal, 1 if a worker failed or exited.
    """
    status = 0
    ready = 0
    all_ready = trio.Event()
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as workers:

            async def run_worker(index: int) -> None:
                nonlocal status, ready
                command = [sys.executable, __file__, "--worker", "--redis", redis_url]
                command += ["--host", host, "--port", str(port)]
                process = await trio.lowlevel.open_process(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
                try:
                    with contextlib.suppress(RuntimeError):
                        await wait_ready(process)
                        ready += 1
                        if ready == count:
                            all_ready.set()
                    await process.wait()
                finally:
                    if process.returncode is None:
                        with trio.CancelScope(shield=True):
                            await stop_worker(process)
                    for pipe in (process.stdin, process.stdout):
                        if pipe is not None:
                            await trio.aclose_forcefully(pipe)
                if not workers.cancel_scope.cancel_called:
                    status = 1
                    print(
                        f"worker {index} exited ({process.returncode}): stopping",
                        flush=True,
                    )
                    workers.cancel_scope.cancel()

            for index in range(count):
                workers.start_soon(run_worker, index)
            with trio.move_on_after(STARTUP_TIMEOUT):
                await all_ready.wait()
            if not all_ready.is_set():
                print("the workers did not start in time: stopping", flush=True)
                status = 1
                workers.cancel_scope.cancel()
            else:
                shown = f"[{host}]" if ":" in host else host
                print(
                    f"{count} workers serving the chat: "
                    f"open http://{shown}:{port}/ in a browser",
                    flush=True,
                )
            async for _ in signals:
                workers.cancel_scope.cancel()
                break
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description="trio_ws chat on N worker processes")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of CPUs)",
    )
    parser.add_argument(
        "--redis",
        required=True,
        help="the Redis/Valkey server the workers share the room through, "
        "e.g. redis://127.0.0.1:6379/0 (pip install 'trio_ws[redis]')",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.worker:
        trio.run(worker, args.redis, args.host, args.port)
        return
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not hasattr(socket, "SO_REUSEPORT"):
        parser.error(f"needs SO_REUSEPORT, which this platform ({sys.platform}) lacks")
    reserved = reserve_port(args.host) if args.port == 0 else None
    port = reserved.getsockname()[1] if reserved is not None else args.port
    try:
        status = trio.run(parent, args.workers, args.redis, args.host, port)
    finally:
        if reserved is not None:
            reserved.close()
    print("all workers stopped", flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
