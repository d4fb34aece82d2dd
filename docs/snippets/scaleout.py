"""Scale-out: several servers accept on one port (SO_REUSEPORT, Linux).

``python docs/snippets/scaleout.py`` runs two servers in one process and shows
the kernel spreading connections over them; ``python
docs/snippets/scaleout.py --processes 4 --port 8000`` runs four worker
processes on port 8000 until Ctrl-C.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket

import trio

from trio_ws import WebSocket, WebSocketServer, open_websocket_url, serve_websocket


async def reuse_port_listener(host: str, port: int) -> trio.SocketListener:
    """A TCP listener that other sockets with SO_REUSEPORT may share."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # Linux, BSD
    await sock.bind((host, port))
    sock.listen(socket.SOMAXCONN)
    return trio.SocketListener(sock)


async def serve_worker(
    name: str,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.send(f"served by {name} (pid {os.getpid()})")

    listener = await reuse_port_listener(host, port)
    # port is ignored when listeners are given.
    await serve_websocket(handler, None, listeners=[listener], task_status=task_status)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def demo() -> None:
    host = "127.0.0.1"
    port = free_port(host)
    async with trio.open_nursery() as nursery:
        for name in ("worker-1", "worker-2"):
            await nursery.start(serve_worker, name, host, port)
        seen = []
        for _ in range(8):
            async with open_websocket_url(f"ws://{host}:{port}/") as ws:
                seen.append(await ws.receive())
        print(f"{len(seen)} connections, port {port}, answered by:")
        for answer in sorted(set(seen)):  # one process here: one pid
            print(" ", answer)
        nursery.cancel_scope.cancel()


async def run_worker(name: str, host: str, port: int) -> None:
    """One worker process: serve until SIGINT or SIGTERM, then close with 1001."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_worker, name, host, port)
            async for _ in signals:
                await server.aclose()  # 1001 to every client; serve_worker returns
                break


def run_process(name: str, host: str, port: int) -> None:
    trio.run(run_worker, name, host, port)


def run_processes(count: int, host: str, port: int) -> None:
    workers = [
        multiprocessing.Process(target=run_process, args=(f"worker-{n}", host, port))
        for n in range(count)
    ]
    for worker in workers:
        worker.start()
    print(f"{count} workers on ws://{host}:{port}/ (parent pid {os.getpid()})")
    try:
        for worker in workers:
            worker.join()
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the group
        for worker in workers:
            worker.join()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.processes:
        run_processes(args.processes, args.host, args.port)
    else:
        trio.run(demo)
