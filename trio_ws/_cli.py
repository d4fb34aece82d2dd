"""The ``trio-ws`` command line: an interactive client and an echo server.

::

    trio-ws connect ws://127.0.0.1:8000/     # lines typed are sent, messages printed
    trio-ws serve --port 8000                 # an echo server
    trio-ws serve --unix /tmp/ws.sock         # ... on a Unix domain socket
    trio-ws connect --unix /tmp/ws.sock ws://localhost/chat

Also ``python -m trio_ws``. Standard library (argparse) and the package only.

Reading standard input without blocking Trio: a worker thread does the
blocking ``os.read`` (``trio.to_thread.run_sync(..., abandon_on_cancel=True)``)
and the lines are split on the Trio side, each bounded by ``MAX_LINE``. A
thread works for every kind of stdin (a terminal, a pipe, a regular file,
Windows consoles), whereas ``trio.lowlevel.FdStream`` cannot poll a regular
file and would put a terminal shared with the parent shell into non-blocking
mode. Raw ``os.read`` rather than ``sys.stdin.readline``: a thread abandoned in
the middle of a read holds no Python-level lock, so the interpreter can exit
under it (a buffered reader's lock held by a daemon thread makes shutdown
abort).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import trio

from ._core import _handshake as hs
from ._core._url import WebSocketURL, parse_url
from ._exceptions import ConnectionClosed, ConnectionRejected, WebSocketError
from .client._client import open_websocket_unix, open_websocket_url
from .client._proxy import ProxyRoute
from .client._redirects import DEFAULT_MAX_REDIRECTS
from .connection._websocket import WebSocket
from .server._server import serve_websocket
from .server._unix import open_unix_listener

if TYPE_CHECKING:
    from .prometheus import MetricsEndpoint

__all__ = ["main"]

# Longest line read from stdin, in bytes (newline excluded): 1 MiB, the default
# max_message_size, so a line we send fits what a default server accepts.
# Longer lines are dropped with a warning (never buffered past this bound).
MAX_LINE = 1024 * 1024

# Bytes asked of os.read per trip to the worker thread (64 KiB: a pipe's size).
READ_CHUNK = 64 * 1024

# Bytes of a binary message shown in hex before the rest is elided.
HEX_PREVIEW = 32

# Bytes of a rejected handshake's response body shown in the error.
BODY_PREVIEW = 200

# Standard input's descriptor (read directly: sys.stdin may be None when the
# process was started with it closed).
STDIN_FD = 0

# Exit statuses. 2 is argparse's own for bad arguments; 130 is the shells'
# 128 + SIGINT for "interrupted".
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Close codes after which `connect` exits 0: the library's "normal" closes
# (RFC 6455 7.4.1), the ones after which ``async for`` ends quietly.
NORMAL_CLOSES = (1000, 1001)

CONNECT_EPILOG = """\
Each line read from standard input is sent as a text message; each message
received is printed (text as it is, binary as its length and leading bytes in
hex). End of input (Ctrl-D) or Ctrl-C closes with 1000 (messages arriving after that
are not shown: --wait leaves them time); a second Ctrl-C stops without waiting.
Status lines go to standard error.

exit status: 0 after a normal close (1000 or 1001, from either side), 1 when
the connection fails or closes with another code, 2 for bad arguments, 130 when
interrupted before the connection opened or by a second Ctrl-C.

examples:
  trio-ws connect ws://127.0.0.1:8000/
  echo hello | trio-ws connect ws://127.0.0.1:8000/chat?room=1 --wait 1
  trio-ws connect wss://example.test/ws --header "Authorization: Bearer T"
  trio-ws connect wss://localhost:8443/ --cafile ca.pem --subprotocol chat.v1
  trio-ws connect wss://localhost:8443/ --insecure   # self-signed, no checks
  trio-ws connect wss://example.test/ --proxy http://user:secret@proxy:3128
  trio-ws connect ws://example.test/ --proxy socks5h://127.0.0.1:1080

By default the proxy is the one the environment sets (HTTPS_PROXY for wss://,
HTTP_PROXY for ws://, ALL_PROXY; NO_PROXY lists servers reached directly).
"""

SERVE_EPILOG = """\
Echoes every message back to its sender, on any path. Prints its URL on
standard output, and each connection and how it closed on standard error.
Ctrl-C (or SIGTERM) closes every connection with 1001 and exits 0.

examples:
  trio-ws serve --port 8000
  trio-ws serve --port 0                      # any free port (printed)
  trio-ws serve --host 0.0.0.0 --port 8443 --tls-cert cert.pem --tls-key key.pem
  trio-ws serve --metrics                     # also Prometheus metrics at /metrics
"""

PROGRAM_EPILOG = """\
examples:
  trio-ws serve --port 8000                 # in one terminal
  trio-ws connect ws://127.0.0.1:8000/      # in another: type, see the echo
  trio-ws connect --help                    # options of a subcommand
"""


def note(text: str) -> None:
    """A status line: on standard error, so standard output holds only messages."""
    print(text, file=sys.stderr, flush=True)


def describe(message: str | bytes) -> str:
    """How a received message is printed: text as is, binary as length + hex."""
    if isinstance(message, str):
        return message
    shown = message[:HEX_PREVIEW].hex(" ")
    more = " …" if len(message) > HEX_PREVIEW else ""
    return f"<binary, {len(message)} bytes: {shown}{more}>"


class LineReader:
    """Lines of a file descriptor, read in a worker thread (see the module doc).

    Args:
        fd: the descriptor to read (0: standard input).
        max_line: longest line returned, in bytes; longer ones are dropped
            with a warning, never buffered whole.
    """

    def __init__(self, fd: int, max_line: int = MAX_LINE) -> None:
        self._fd = fd
        self._max_line = max_line
        self._buffer = bytearray()
        self._eof = False
        # True while dropping the rest of an overlong line (up to its newline).
        self._skipping = False

    async def readline(self) -> bytes | None:
        """Return the next line without its line ending, or None at end of input."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if self._skipping:
                    self._skipping = False
                elif len(line) > self._max_line:
                    self._warn_too_long()
                else:
                    return line.removesuffix(b"\r")
            elif len(self._buffer) > self._max_line:
                if not self._skipping:
                    self._warn_too_long()
                self._skipping = True
                self._buffer.clear()
            elif self._eof:
                last = bytes(self._buffer)
                self._buffer.clear()
                if last and not self._skipping:
                    return last.removesuffix(b"\r")
                return None
            else:
                try:
                    data = await trio.to_thread.run_sync(
                        os.read, self._fd, READ_CHUNK, abandon_on_cancel=True
                    )
                except OSError as exc:  # e.g. started with stdin closed
                    note(f"warning: cannot read standard input ({exc}): input ends")
                    data = b""
                self._buffer += data
                self._eof = not data

    def _warn_too_long(self) -> None:
        note(f"warning: line longer than {self._max_line} bytes not sent")


class ClientSession:
    """One ``trio-ws connect``: stdin to the server, messages to stdout."""

    def __init__(self, args: argparse.Namespace, reader: LineReader) -> None:
        self._args = args
        self._reader = reader
        self._ws: WebSocket | None = None
        self._close_requested = trio.Event()
        self.exit_status = EXIT_FAILED

    async def run(self) -> None:
        """Connect, then pump both ways until the connection closes."""
        args = self._args
        try:
            async with open_client(args) as ws:
                self._ws = ws
                chosen = f", subprotocol {ws.subprotocol}" if ws.subprotocol else ""
                where = f" over {args.unix}" if args.unix else ""
                note(
                    f"connected to {ws.url}{where}{chosen} (Ctrl-D or Ctrl-C to close)"
                )
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._send_lines, ws)
                    nursery.start_soon(self._close_when_asked, ws)
                    await self._print_messages(ws)
                    nursery.cancel_scope.cancel()
        except ConnectionRejected as exc:
            body = exc.body[:BODY_PREVIEW].decode("utf-8", "replace").strip()
            note(f"error: the server refused the upgrade: HTTP {exc.status_code}")
            if body:
                note(body)
        except (OSError, WebSocketError) as exc:
            note(f"error: {exc or type(exc).__name__}")

    def interrupt(self) -> bool:
        """Ask for a clean close (Ctrl-C); False when there is nothing to close."""
        if self._ws is None or self._close_requested.is_set():
            return False
        note("closing (Ctrl-C again to stop at once)")
        self._close_requested.set()
        return True

    async def _send_lines(self, ws: WebSocket) -> None:
        while (line := await self._reader.readline()) is not None:
            try:
                await ws.send(line.decode("utf-8", "replace"))
            except ConnectionClosed:
                return
        # End of input. Closing discards messages still on their way to us,
        # so --wait leaves the answers time to arrive (the server closing
        # first ends the wait: the nursery is cancelled).
        await trio.sleep(self._args.wait)
        self._close_requested.set()

    async def _close_when_asked(self, ws: WebSocket) -> None:
        await self._close_requested.wait()
        await ws.aclose(1000)

    async def _print_messages(self, ws: WebSocket) -> None:
        try:
            async for message in ws:
                print(describe(message), flush=True)
        except ConnectionClosed:
            pass
        reason = ws.closed
        code = reason.code if reason is not None else 1006
        who = "" if self._close_requested.is_set() else " by the server"
        note(f"connection closed{who}: {reason}")
        self.exit_status = EXIT_OK if code in NORMAL_CLOSES else EXIT_FAILED


def open_client(args: argparse.Namespace) -> AbstractAsyncContextManager[WebSocket]:
    """The client connection ``trio-ws connect`` asks for (TCP or --unix)."""
    kwargs: dict[str, Any] = dict(
        subprotocols=args.subprotocols,
        extra_headers=args.headers,
        origin=args.origin,
        ssl_context=client_ssl_context(args),
        max_redirects=args.max_redirects,
    )
    if args.unix:
        return open_websocket_unix(args.unix, args.url, **kwargs)
    return open_websocket_url(
        args.url,
        proxy=args.proxy,
        proxy_ssl_context=proxy_ssl_context(args),
        **kwargs,
    )


def client_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The context for ``wss://``: default verification, a CA file, or none."""
    if not args.parsed_url.secure:
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def proxy_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The context for an ``https://`` proxy: --cafile applies to it too."""
    if args.cafile is None:
        return None
    return ssl.create_default_context(cafile=args.cafile)


async def run_connect(args: argparse.Namespace) -> int:
    """``trio-ws connect``: returns the exit status."""
    session = ClientSession(args, LineReader(STDIN_FD))
    interrupted = False
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                nonlocal interrupted
                async for _ in signals:
                    if not session.interrupt():
                        interrupted = True
                        nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            await session.run()
            nursery.cancel_scope.cancel()
    if interrupted:
        note("interrupted")
        return EXIT_INTERRUPTED
    return session.exit_status


async def echo(ws: WebSocket) -> None:
    """The ``serve`` handler: every message back to its sender."""
    peer = ws.remote or "a client"
    path = ws.request.path if ws.request is not None else "/"
    note(f"{peer} connected to {path}")
    try:
        async for message in ws:
            await ws.send(message)
    finally:
        note(f"{peer} closed: {ws.closed or 'server shutdown'}")


async def run_serve(args: argparse.Namespace) -> int:
    """``trio-ws serve``: returns the exit status."""
    try:
        ssl_context = server_ssl_context(args)
        # Opened here, outside the nursery, so that "address in use" is a
        # plain OSError with a one-line message.
        listeners: list[trio.abc.Listener[Any]]
        if args.unix:
            listeners = [await open_unix_listener(args.unix)]
        else:
            listeners = list(await trio.open_tcp_listeners(args.port, host=args.host))
    except OSError as exc:
        note(f"error: {exc}")
        return EXIT_FAILED
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(
                    serve_websocket,
                    echo,
                    None,
                    listeners=listeners,
                    ssl_context=ssl_context,
                    process_request=metrics_hook(args),
                )
            )
            scheme = "wss" if ssl_context else "ws"
            if args.unix:
                print(f"serving {scheme}:// on unix:{args.unix}", flush=True)
                if args.metrics:
                    print(f"metrics at /metrics on unix:{args.unix}", flush=True)
            else:
                host = f"[{args.host}]" if ":" in args.host else args.host
                print(f"serving on {scheme}://{host}:{server.port}/", flush=True)
                if args.metrics:
                    web = "https" if ssl_context else "http"
                    url = f"{web}://{host}:{server.port}/metrics"
                    print(f"metrics at {url}", flush=True)
            note("echo server: Ctrl-C to stop")

            async def close_then_stop() -> None:
                await server.aclose()
                nursery.cancel_scope.cancel()

            await signals.__anext__()
            note("stopping: closing connections with 1001 (Ctrl-C again: at once)")
            nursery.start_soon(close_then_stop)
            await signals.__anext__()
            nursery.cancel_scope.cancel()
    return EXIT_OK


def metrics_hook(args: argparse.Namespace) -> MetricsEndpoint | None:
    """``--metrics``: the process_request hook answering GET /metrics."""
    if not args.metrics:
        return None
    from .prometheus import metrics_endpoint  # (checked in main())

    return metrics_endpoint()


def server_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The context for ``wss://`` when a certificate and key were given."""
    if not args.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The argument parser of the program and its two subcommands."""
    from . import __version__
    from ._core import IMPLEMENTATION

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog,
        description="WebSocket client and echo server (trio_ws).",
        epilog=PROGRAM_EPILOG,
        formatter_class=raw,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__} ({IMPLEMENTATION}; trio {trio.__version__})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    connect = commands.add_parser(
        "connect",
        help="interactive client: send stdin lines, print messages",
        description="Open a WebSocket; send typed lines, print messages.",
        epilog=CONNECT_EPILOG,
        formatter_class=raw,
    )
    connect.set_defaults(command_parser=connect)
    connect.add_argument("url", help="ws:// or wss:// URL (path and query allowed)")
    connect.add_argument(
        "--header",
        dest="header_args",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra request header (repeatable), e.g. 'Authorization: Bearer T'",
    )
    connect.add_argument(
        "--subprotocol",
        dest="subprotocols",
        action="append",
        default=[],
        metavar="NAME",
        help="subprotocol to offer (repeatable, most preferred first)",
    )
    connect.add_argument("--origin", help="Origin header to send")
    connect.add_argument(
        "--wait",
        type=non_negative,
        default=0.0,
        metavar="SECONDS",
        help="at end of input, print messages this long before closing (default 0)",
    )
    connect.add_argument(
        "--cafile",
        type=existing_file,
        metavar="FILE",
        help="wss://: trust the CA certificates in this PEM file",
    )
    connect.add_argument(
        "--insecure",
        action="store_true",
        help="wss://: do not verify the server's certificate or name",
    )
    connect.add_argument(
        "--unix",
        metavar="PATH",
        help="connect over this Unix domain socket (the URL gives Host and path)",
    )
    connect.add_argument(
        "--max-redirects",
        type=int,
        default=DEFAULT_MAX_REDIRECTS,
        metavar="N",
        help=f"follow at most N redirects (default {DEFAULT_MAX_REDIRECTS}; 0: none)",
    )
    via = connect.add_mutually_exclusive_group()
    via.add_argument(
        "--proxy",
        default=True,
        metavar="URL",
        help="go through this proxy: http://[USER:PASSWORD@]HOST:PORT, https://..., "
        "socks5h://..., socks5://, socks4a://, socks4:// (default: from the "
        "environment, see below)",
    )
    via.add_argument(
        "--no-proxy",
        dest="proxy",
        action="store_const",
        const=None,
        help="connect directly, whatever the environment says",
    )

    serve = commands.add_parser(
        "serve",
        help="echo server",
        description="Run a WebSocket echo server.",
        epilog=SERVE_EPILOG,
        formatter_class=raw,
    )
    serve.set_defaults(command_parser=serve)
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port (default 8000; 0: any free)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    serve.add_argument(
        "--tls-cert", type=existing_file, metavar="FILE", help="PEM certificate: wss://"
    )
    serve.add_argument(
        "--tls-key", type=existing_file, metavar="FILE", help="PEM private key"
    )
    serve.add_argument(
        "--unix",
        metavar="PATH",
        help="listen on this Unix domain socket instead of TCP",
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        help="also answer GET /metrics with the server's Prometheus metrics "
        "(needs the prometheus extra: pip install 'trio-ws[prometheus]')",
    )
    return parser


def existing_file(text: str) -> str:
    """argparse type: a path that names a file (so a typo exits 2, clearly)."""
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def non_negative(text: str) -> float:
    """argparse type: a number of seconds, 0 or more."""
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def check_connect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Validate the URL and headers up front: errors exit 2 with a clear message."""
    try:
        args.parsed_url = parse_url(args.url)
    except ValueError as exc:  # InvalidURL is a ValueError
        parser.error(f"invalid URL: {exc}")
    args.headers = [parse_header(parser, text) for text in args.header_args]
    if args.max_redirects < 0:
        parser.error("--max-redirects: expected 0 or more")
    if args.unix and isinstance(args.proxy, str):
        parser.error("--proxy and --unix do not go together")
    try:
        ProxyRoute.of(args.proxy)  # an invalid URL or a missing extra: exit 2
    except (ValueError, ImportError) as exc:  # InvalidURL is a ValueError
        parser.error(f"--proxy: {exc}")
    url: WebSocketURL = args.parsed_url
    try:
        # The request the client will send, built once to run its checks
        # (header names are tokens, values hold no CR/LF, no handshake header).
        hs.build_request(
            url,
            hs.generate_key(),
            subprotocols=args.subprotocols,
            extra_headers=args.headers,
            origin=args.origin,
        )
    except ValueError as exc:
        parser.error(str(exc))


def parse_header(parser: argparse.ArgumentParser, text: str) -> tuple[str, str]:
    """``"Name: value"`` -> ``("Name", "value")``; exits 2 without a colon."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        parser.error(f"--header {text!r}: expected NAME:VALUE")
    return name.strip(), value.strip()


def main(argv: Sequence[str] | None = None, prog: str = "trio-ws") -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        prog: the program name shown in help and errors.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A message with characters the terminal cannot show still prints.
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.command == "connect":
        check_connect(args.command_parser, args)
        return trio.run(run_connect, args)
    if bool(args.tls_cert) != bool(args.tls_key):
        args.command_parser.error("--tls-cert and --tls-key go together")
    if args.metrics:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            args.command_parser.error(
                "--metrics needs prometheus_client: pip install 'trio-ws[prometheus]'"
            )
    return trio.run(run_serve, args)
