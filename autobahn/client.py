"""Autobahn client testee: our client against wstest's fuzzingserver.

python autobahn/client.py ws://127.0.0.1:9001 [--agent trio_ws] [--case-timeout 120]

Asks ``/getCaseCount``, then runs the cases one after the other (as wstest
expects): ``/runCase?case=N&agent=AGENT`` echoes every message back until the
connection closes. Options are the defaults except ``max_message_size`` (as
in server.py). Finally ``/updateReports?agent=AGENT`` makes wstest write
the reports. Retries the first connection for ``--connect-timeout`` seconds
while wstest starts up. Exits non-zero only when the harness itself could
not run (the verdicts are in the reports: see autobahn/summary.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractAsyncContextManager

import trio

from trio_ws import ConnectionClosed, WebSocket, WebSocketError, open_websocket_url

MAX_MESSAGE_SIZE = 16 * 2**20


def connect(url: str) -> AbstractAsyncContextManager[WebSocket]:
    return open_websocket_url(
        url,
        max_message_size=MAX_MESSAGE_SIZE,
    )


async def get_case_count(base: str, connect_timeout: float) -> int:
    deadline = trio.current_time() + connect_timeout
    while True:
        try:
            async with connect(f"{base}/getCaseCount") as ws:
                return int(await ws.receive())
        except OSError:
            if trio.current_time() > deadline:
                raise
            await trio.sleep(0.1)


async def run_case(base: str, case: int, agent: str) -> None:
    async with connect(f"{base}/runCase?case={case}&agent={agent}") as ws:
        try:
            while True:
                await ws.send(await ws.receive())
        except ConnectionClosed:
            pass


async def update_reports(base: str, agent: str) -> None:
    async with connect(f"{base}/updateReports?agent={agent}") as ws:
        try:
            while True:
                await ws.receive()
        except ConnectionClosed:
            pass


async def main(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    count = await get_case_count(base, args.connect_timeout)
    print(f"{count} cases from {base}", flush=True)
    problems = 0
    for case in range(1, count + 1):
        started = time.monotonic()
        with trio.move_on_after(args.case_timeout) as scope:
            try:
                await run_case(base, case, args.agent)
            except (WebSocketError, OSError) as exc:
                # wstest records what went wrong on the wire; note it here too.
                problems += 1
                print(f"case {case}: {type(exc).__name__}: {exc}", flush=True)
        if scope.cancelled_caught:
            problems += 1
            print(f"case {case}: gave up after {args.case_timeout} s", flush=True)
        elapsed = time.monotonic() - started
        if elapsed > 5:
            print(f"case {case}: {elapsed:.1f} s", flush=True)
    await update_reports(base, args.agent)
    print(f"ran {count} cases ({problems} raised or timed out)", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the fuzzingserver, e.g. ws://127.0.0.1:9001")
    parser.add_argument("--agent", default="trio_ws")
    parser.add_argument("--case-timeout", type=float, default=120.0)
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    sys.exit(trio.run(main, parser.parse_args()))
