"""The WebSocket server: listeners, the per-connection task, process_request."""

from __future__ import annotations

import inspect
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core import _handshake as hs
from .._core._hixie76 import is_hixie76_request
from .._exceptions import ConnectionClosed, ConnectionTimeout, InvalidHandshake
from .._options import ConnectionOptions, OptionsDict, seconds
from .._scopes import collapse, is_group, leaves, reraise
from ..connection._sweeper import Sweeper
from ..connection._websocket import WebSocket
from . import _handshake as handshake
from ._admission import DEFAULT_MAX_CONNECTIONS, Admission, answer_busy
from ._hixie76 import hixie76_handshake
from ._listeners import open_reuse_port_listeners
from ._metrics import ServerMetrics, ServerStatistics
from ._unix import open_unix_listener

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Response", "WebSocketServer", "serve_websocket", "wrap_server_stream"]

logger = logging.getLogger("trio_ws")

Handler = Callable[[WebSocket], Awaitable[None]]
ProcessRequest = Callable[[hs.Request], "Response | Awaitable[Response | None] | None"]

# When the server's scope is cancelled, each open connection still gets its
# close frame (1001) if it can be written within this many seconds.
FORCED_CLOSE_FLUSH_TIMEOUT = 1.0

_INTERNAL_ERROR_BODY = b"500 Internal Server Error\n"


@attrs.frozen
class Response:
    """A plain HTTP response, returned by a ``process_request`` hook.

    Attributes:
        status_code: the HTTP status, e.g. 200, 401, 403, 404.
        headers: extra ``(name, value)`` pairs; Content-Length and
            ``Connection: close`` are added for you.
        body: the body; ``str`` is sent as UTF-8 text.
    """

    status_code: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | str = b""

    def to_bytes(self) -> bytes:
        """The whole HTTP/1.1 response as sent on the wire.

        Raises:
            ValueError: a header would split the response (CR/LF, control
                characters), or the status cannot carry a body.
        """
        body = self.body.encode() if isinstance(self.body, str) else self.body
        return hs.build_http_response(self.status_code, tuple(self.headers), body)


class WebSocketServer:
    """A running WebSocket server.

    Get one with ``server = await nursery.start(serve_websocket, handler, port)``.
    The constructor takes the arguments of :func:`serve_websocket` (with
    ``draft76``, off by default), its options as one :class:`ConnectionOptions`.

    Attributes:
        listeners: the trio listeners it accepts on.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[trio.abc.Listener[Any]],
        *,
        handler_nursery: trio.Nursery | None = None,
        ssl_context: ssl.SSLContext | None = None,
        subprotocols: Sequence[str] = (),
        process_request: ProcessRequest | None = None,
        options: ConnectionOptions | None = None,
        draft76: bool = False,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        # Counts connections against max_connections (_admission.py).
        self._admission = Admission(max_connections)
        self._handler = handler
        self.listeners = list(listeners)
        self._handler_nursery = handler_nursery
        self._ssl_context = ssl_context
        self._subprotocols = tuple(subprotocols)
        self._process_request = process_request
        self._draft76 = draft76
        self.options = options or ConnectionOptions()
        self._connections: set[WebSocket] = set()
        self._tasks = 0
        # Set when _tasks drops to 0; created only when aclose() waits for it
        # (not per connection: one at a time, each would need a new one).
        self._tasks_done: trio.Event | None = None
        self._accept_scope = trio.CancelScope()
        self._closing = False
        self._stopped = trio.Event()
        # Keepalive and reader hand-over for every connection (_sweeper.py).
        self._sweeper = Sweeper()
        # The server-wide counters behind statistics() (_metrics.py).
        self._metrics = ServerMetrics()
        # A hook that wants to know its server (trio_ws.prometheus's
        # endpoint, for one) is told here, before any request arrives.
        bind_server = getattr(process_request, "bind_server", None)
        if bind_server is not None:
            bind_server(self)

    @property
    def port(self) -> int:
        """The TCP port of the first listener (handy with ``port=0``)."""
        for listener in self.listeners:
            sock = getattr(listener, "socket", None)
            if sock is None:
                transport = getattr(listener, "transport_listener", None)
                sock = getattr(transport, "socket", None)
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
        raise RuntimeError("the server has no TCP listener")

    @property
    def active_connections(self) -> int:
        """Connections being served: accepted and not yet closed, whether
        still in the opening handshake, answering plain HTTP or open
        WebSockets. This is what ``max_connections`` limits."""
        return self._admission.active

    @property
    def max_connections(self) -> int | None:
        """The limit on :attr:`active_connections` (None: no limit)."""
        return self._admission.limit

    def statistics(self) -> ServerStatistics:
        """A snapshot of the server-wide counters and gauges (see the record).

        Costs a few attribute reads per open connection: the message and
        byte totals add the open connections' counts to those that ended.
        """
        # (A tuple first: copied at once, so a collector running in another
        # thread, e.g. prometheus_client's HTTP server, sees a consistent set.)
        return self._metrics.snapshot(tuple(self._connections), self._admission.active)

    async def run(
        self,
        *,
        task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept connections until :meth:`aclose` or cancellation.

        Raises no exception group of ours: cancelled from outside, it raises
        a plain ``Cancelled``; a handler's ``KeyboardInterrupt`` (or another
        ``BaseException`` that is not an ``Exception``) leaves unchanged.
        """
        try:
            await self._run(task_status)
        except BaseException as exc:
            error = collapse(exc)
        else:
            return
        reraise(error)

    async def _run(self, task_status: trio.TaskStatus[WebSocketServer]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._sweeper.run)
            with self._accept_scope:
                async with trio.open_nursery() as accept_nursery:
                    for listener in self.listeners:
                        accept_nursery.start_soon(self._accept_loop, listener)
                    task_status.started(self)
            await self._stopped.wait()
            nursery.cancel_scope.cancel()

    async def aclose(self) -> None:
        """Stop accepting, close every connection with 1001, wait, then return.

        Each connection gets up to ``close_timeout`` for its closing handshake.
        """
        self._closing = True
        self._accept_scope.cancel()
        for listener in self.listeners:
            await trio.aclose_forcefully(listener)
        async with trio.open_nursery() as nursery:
            for ws in list(self._connections):
                nursery.start_soon(ws.aclose, 1001, "server shutdown")
        timeout = self.options.close_timeout
        if self._tasks:
            if self._tasks_done is None:
                self._tasks_done = trio.Event()
            with trio.move_on_after(seconds(timeout)):
                await self._tasks_done.wait()
        self._stopped.set()

    async def _accept_loop(self, listener: trio.abc.Listener[Any]) -> None:
        async with listener:
            while True:
                try:
                    stream = await listener.accept()
                except (OSError, trio.BrokenResourceError) as exc:
                    # Out of file descriptors and the like: do not spin.
                    logger.error("accept() failed: %s", exc)
                    await trio.sleep(0.1)
                    continue
                except trio.ClosedResourceError:
                    return
                # Counted here, synchronously: connections accepted in a
                # burst are counted before any of their tasks runs.
                admitted = self._admission.admit()
                if admitted is None:  # over the limit, and too many answers
                    self._metrics.handshake_ended(None, 0.0)
                    await trio.aclose_forcefully(stream)
                    continue
                nursery = self._handler_nursery or self._nursery
                self._tasks += 1
                nursery.start_soon(self._serve_connection, stream, admitted)

    async def _serve_connection(
        self, stream: trio.abc.Stream, admitted: bool = True
    ) -> None:
        try:
            if admitted:
                await self._serve_connection_inner(stream)
            else:
                answered = await answer_busy(stream, self._ssl_context, self.options)
                self._metrics.handshake_ended(503 if answered else None, 0.0)
        finally:
            self._admission.release(admitted)
            self._tasks -= 1
            if self._tasks == 0 and self._tasks_done is not None:
                self._tasks_done.set()
                self._tasks_done = None

    async def _serve_connection_inner(self, stream: trio.abc.Stream) -> None:
        options = self.options
        ws: WebSocket | None = None
        outcome: WebSocket | int | None = None
        started = trio.current_time()
        try:
            try:
                with trio.move_on_after(seconds(options.open_timeout)):
                    outcome = await self._handshake(stream)
            finally:
                self._metrics.handshake_ended(outcome, trio.current_time() - started)
            if not isinstance(outcome, WebSocket):
                return
            ws = outcome
            self._connections.add(ws)
            # The reader runs beside this task in the server's nursery (no
            # nursery per connection: memory per idle connection counts); the
            # handler's aclose() ends it, and the server's cancellation too.
            ws._start(self._handler_nursery or self._nursery, self._sweeper)
            if self._closing:  # aclose() began during our handshake
                await ws.aclose(1001, "server shutdown")
                return
            await self._run_handler(ws)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("connection lost during the handshake: %r", exc)
        finally:
            if ws is not None:
                try:
                    if not ws._released:
                        # Cancelled (the server's scope) before the handler's
                        # aclose: still say goodbye with 1001, without waiting
                        # for the peer's answer.
                        await ws._force_close(
                            1001,
                            "server shutdown",
                            None,
                            flush_timeout=FORCED_CLOSE_FLUSH_TIMEOUT,
                        )
                finally:
                    # Together: a snapshot counts the connection once, among
                    # the open ones or in the totals, never neither.
                    self._connections.discard(ws)
                    self._metrics.connection_ended(ws)
            if ws is None or not ws._released:
                await trio.aclose_forcefully(stream)

    async def _run_handler(self, ws: WebSocket) -> None:
        code, reason = 1000, ""
        try:
            await self._handler(ws)
        except ConnectionClosed:
            pass  # the peer went away: normal, and silent
        except Exception as exc:
            if _only_connection_closed(exc):
                # The same from a nursery inside the handler (trio wraps it
                # in an ExceptionGroup): still normal and silent.
                await ws.aclose(code, reason)
                return
            logger.exception(
                "WebSocket handler raised; closing its connection with 1011"
            )
            code, reason = 1011, "internal error"
        await ws.aclose(code, reason)

    async def _handshake(self, stream: trio.abc.Stream) -> WebSocket | int | None:
        """TLS, then read and answer the HTTP request: the WebSocket, or the
        HTTP status answered instead, or None (no answer)."""
        if self._ssl_context is not None:
            stream = trio.SSLStream(stream, self._ssl_context, server_side=True)
            await stream.do_handshake()
        return await _server_handshake(
            stream,
            subprotocols=self._subprotocols,
            process_request=self._process_request,
            options=self.options,
            draft76=self._draft76,
        )


async def _answer_of(
    process_request: ProcessRequest, request: hs.Request
) -> tuple[int, bytes] | None:
    """Run the hook: the status and response to send, or None to go on with
    the upgrade.

    A hook that raises (or returns a response that cannot be sent) is a bug
    in the application: it is logged and that request alone gets a 500,
    like a handler that raises gets 1011. The server goes on.
    """
    try:
        result = process_request(request)
        if inspect.isawaitable(result):
            result = await result
        return None if result is None else (result.status_code, result.to_bytes())
    except Exception:
        logger.exception("process_request raised; answering 500")
        return 500, hs.build_http_response(500, (), _INTERNAL_ERROR_BODY)


def _only_connection_closed(exc: BaseException) -> bool:
    """True for an exception group holding nothing but ConnectionClosed."""
    return is_group(exc) and all(
        isinstance(leaf, ConnectionClosed) for leaf in leaves(exc)
    )


async def _server_handshake(
    stream: trio.abc.Stream,
    *,
    subprotocols: Sequence[str],
    process_request: ProcessRequest | None,
    options: ConnectionOptions,
    draft76: bool = False,
) -> WebSocket | int | None:
    """Read the HTTP request on ``stream`` and answer it (steps in _handshake.py).

    Returns the (not yet started) WebSocket after a 101, the HTTP status
    when the request was answered with plain HTTP instead (process_request,
    426, 4xx...), or None when the client left before sending a request.
    """
    try:
        received = await handshake.read_request(stream, options.receive_size)
        if received is None:
            return None  # the client left before sending a request
        request, leftover = received
        answer = None
        if process_request is not None:
            answer = await _answer_of(process_request, request)
        if answer is None:
            answer = handshake.refusal(request)
        if answer is not None:
            await stream.send_all(answer[1])
            return answer[0]
        if is_hixie76_request(request):
            if not draft76:
                raise handshake.draft76_off()
            return await hixie76_handshake(
                stream, request, leftover, subprotocols=subprotocols, options=options
            )
        negotiated = handshake.negotiate(request, subprotocols, options)
    except InvalidHandshake as exc:
        await stream.send_all(handshake.error_response(exc))
        return exc.status_code
    return await handshake.accept(stream, request, leftover, negotiated, options)


async def wrap_server_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    *,
    subprotocols: Sequence[str] = (),
    **options: Unpack[OptionsDict],
) -> WebSocket:
    """Run the server side of the opening handshake on an existing stream.

    For custom transports and tests: reads the upgrade request from
    ``stream``, answers it and returns the open WebSocket, whose helper tasks
    run in ``nursery``. The caller owns the connection (``await ws.aclose()``).

    Raises:
        InvalidHandshake: the request was not a valid WebSocket upgrade (it
            has been answered with the matching HTTP error).
        ConnectionTimeout: the request and the answer took longer than
            ``open_timeout`` (the stream is left as it is: close it).
    """
    connection_options = ConnectionOptions(**options)
    timeout = connection_options.open_timeout
    with trio.move_on_after(seconds(timeout)) as scope:
        ws = await _server_handshake(
            stream,
            subprotocols=subprotocols,
            process_request=None,
            options=connection_options,
        )
    if scope.cancelled_caught:
        raise ConnectionTimeout(f"no complete WebSocket upgrade within {timeout} s")
    if not isinstance(ws, WebSocket):
        raise InvalidHandshake("the client did not send a valid WebSocket upgrade")
    ws._start(nursery)
    return ws


async def serve_websocket(
    handler: Handler,
    port: int | None = None,
    *,
    host: str | bytes | None = None,
    unix_socket: str | os.PathLike[str] | None = None,
    reuse_port: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    handler_nursery: trio.Nursery | None = None,
    subprotocols: Sequence[str] = (),
    process_request: ProcessRequest | None = None,
    listeners: Sequence[trio.abc.Listener[Any]] | None = None,
    draft76: bool = False,
    max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
    **options: Unpack[OptionsDict],
) -> None:
    """Serve WebSocket connections until cancelled or ``server.aclose()`` returns.

    Use ``server = await nursery.start(serve_websocket, handler, port)`` to get
    the :class:`WebSocketServer` (for ``.port`` and ``aclose()``).

    Args:
        handler: ``async def handler(ws)``, called for each upgraded
            connection. Returning closes with 1000; raising is logged and
            closes with 1011; ``ConnectionClosed`` escaping it is silent.
        port: TCP port (0 picks a free one); ignored when ``listeners`` is given.
        host: address to bind (None: every interface).
        unix_socket: serve on a Unix domain socket at this path instead of
            TCP (a stale socket file left there is replaced; the file is
            removed when the server stops). For both TCP and a Unix socket,
            pass ``listeners=[*tcp_listeners, await open_unix_listener(path)]``.
        reuse_port: open the listeners with SO_REUSEPORT, so several
            processes can serve the same port (the kernel spreads the
            connections on Linux). Not with ``listeners``.
        ssl_context: serve ``wss://`` with this server-side context.
        handler_nursery: run connection tasks in this nursery instead of the
            server's own.
        subprotocols: supported subprotocols, by preference; the first one the
            client offered is chosen.
        process_request: ``(request) -> Response | None`` (sync or async),
            called for every request before the upgrade: return a
            :class:`Response` to answer plain HTTP (health checks, pages, 401,
            403, 404...), or None to go on with the WebSocket handshake.
            A hook object with a ``bind_server(server)`` method is handed
            the server once, before the first request (how
            ``trio_ws.prometheus.metrics_endpoint()`` finds the server
            whose ``statistics()`` it serves).
        listeners: pre-built trio listeners (an SO_REUSEPORT socket, a Unix
            socket...) to accept on instead of opening TCP listeners.
        draft76: also accept clients of the legacy draft-76 ("hixie-76")
            protocol of 2010. Off by default: it has no masking (proxies and
            caches can be poisoned), no binary messages, no pings and no
            close codes, and RFC 6455 replaced it in 2011. When off, such a
            request gets 400 saying so. When on, its handler gets a
            WebSocket that sends and receives text only (``send(bytes)``
            and ``ping()`` raise LocalProtocolError), without keepalive.
        max_connections: most connections served at once (None, the
            default: no limit but the process's file descriptors). Every
            accepted connection counts, from accept to close: handshakes in
            progress, plain HTTP answers and open WebSockets. Beyond it, a
            client gets ``503 Service Unavailable`` with ``Retry-After: 5``
            and is closed; its handler never runs.
        options: :class:`ConnectionOptions` fields (``max_message_size``,
            ``message_queue_size``, ``open_timeout``, ``close_timeout``,
            ``ping_interval``, ``ping_timeout``, ``write_timeout``...).
            On a server, ``open_timeout`` bounds everything before the
            handler runs: the TLS handshake, reading the request (a client
            sending it byte by byte is dropped), ``process_request`` and the
            answer; a connection that takes longer is closed unanswered.

    Raises:
        TypeError: neither ``port``, ``unix_socket`` nor ``listeners``, or
            more than one of them, or ``reuse_port`` without TCP.
        ReusePortUnavailable: ``reuse_port=True`` on a platform without
            SO_REUSEPORT (a :exc:`NotImplementedError`).
        OSError: a listener could not be opened (e.g. EADDRINUSE).
        ValueError: ``max_connections`` is not a positive integer or None,
            or ``listeners`` is empty.
    """
    connection_options = ConnectionOptions(**options)
    if listeners is not None and reuse_port:
        raise TypeError(
            "serve_websocket(): reuse_port applies to the listeners it opens; "
            "set SO_REUSEPORT on your own listeners= instead"
        )
    if listeners is not None and not listeners:
        raise ValueError("serve_websocket(): listeners=[] would serve nothing")
    if unix_socket is not None:
        if listeners is not None or port is not None or reuse_port:
            raise TypeError(
                "serve_websocket(): unix_socket= goes alone; give listeners= to "
                "serve TCP and a Unix socket together"
            )
        listeners = [await open_unix_listener(unix_socket)]
    if listeners is None:
        if port is None:
            raise TypeError("serve_websocket() needs a port, unix_socket or listeners")
        if reuse_port:
            listeners = await open_reuse_port_listeners(port, host=host)
        else:
            listeners = await trio.open_tcp_listeners(port, host=host)
    server = WebSocketServer(
        handler,
        listeners,
        handler_nursery=handler_nursery,
        ssl_context=ssl_context,
        subprotocols=subprotocols,
        process_request=process_request,
        options=connection_options,
        draft76=draft76,
        max_connections=max_connections,
    )
    await server.run(task_status=task_status)
