"""Every way out of every context manager we export, as a property.

For each context manager (the client's ``open_websocket_url`` and
``open_websocket``, ``async with ws`` on a connection, ``reconnecting()``,
a pub/sub subscription) and each way the body can end (return, a user exception,
an exception raised while cancelled, outer cancellation, the peer closing,
the peer resetting, KeyboardInterrupt), under ``strict_exception_groups``:

- a user's exception leaves unchanged (the same object, never in a group);
- an outer cancellation leaves as a plain ``trio.Cancelled`` and is caught
  by the caller's scope;
- the connection is closed afterwards.

The server gets the same checks: ``serve_websocket`` cancelled from outside
leaves as a plain ``Cancelled``; a handler's ``KeyboardInterrupt`` leaves it
unchanged.
"""

from __future__ import annotations

import functools
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import trio

from tests.conftest import TEST_TIMEOUT, start_server
from trio_ws import (
    ConnectionClosed,
    LocalPubSub,
    WebSocket,
    connect_websocket_url,
    open_websocket,
    open_websocket_url,
    reconnecting,
    serve_websocket,
)
from trio_ws._core import _handshake as hs

WAYS = [
    "return",
    "error",
    "error_while_cancelled",
    "outer_cancel",
    "peer_close",
    "peer_reset",
    "keyboard_interrupt",
]


async def control_handler(ws: WebSocket) -> None:
    """Echo; "close" closes from the server side."""
    async for message in ws:
        if message == "close":
            await ws.aclose(1000, "asked to")
            return
        await ws.send(message)


async def reset_server(stream: trio.SocketStream) -> None:
    """Accept the WebSocket upgrade, then reset the TCP connection (RST)."""
    reader = hs.HeadReader()
    while not reader.feed(await stream.receive_some(65536)):
        pass
    offer = hs.validate_request(hs.parse_request(reader.head))
    await stream.send_all(hs.build_accept_response(offer))
    await stream.receive_some(65536)  # the client's first frame
    linger = struct.pack("ii", 1, 0)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    stream.socket.close()


CMFactory = Callable[[str, trio.Nursery], Awaitable[AbstractAsyncContextManager[Any]]]


async def cm_open_websocket_url(url: str, nursery: trio.Nursery) -> Any:
    return open_websocket_url(url)


async def cm_open_websocket(url: str, nursery: trio.Nursery) -> Any:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    return open_websocket("127.0.0.1", port, "/")


async def cm_websocket_resource(url: str, nursery: trio.Nursery) -> Any:
    return await connect_websocket_url(nursery, url)


@asynccontextmanager
async def first_of_reconnecting(url: str) -> AsyncIterator[WebSocket]:
    """The body runs on reconnecting()'s first connection, inside its loop."""
    async with reconnecting(url, initial_delay=0.01, max_delay=0.05) as connections:
        async for ws in connections:
            yield ws
            return


async def cm_reconnecting(url: str, nursery: trio.Nursery) -> Any:
    return first_of_reconnecting(url)


CLIENT_CMS: dict[str, CMFactory] = {
    "open_websocket_url": cm_open_websocket_url,
    "open_websocket": cm_open_websocket,
    "async_with_ws": cm_websocket_resource,
    "reconnecting": cm_reconnecting,
}


async def end_body(way: str, scope: trio.CancelScope) -> None:
    """End a block's body the way ``way`` says, for the ways every context
    manager shares (returns for the others)."""
    if way == "error":
        raise ValueError("from the body")
    if way == "error_while_cancelled":
        scope.cancel()
        try:
            await trio.sleep_forever()
        finally:
            raise ValueError("cleanup failed")
    if way == "outer_cancel":
        scope.cancel()
        await trio.sleep_forever()
    if way == "keyboard_interrupt":
        raise KeyboardInterrupt


async def run_body(way: str, ws: WebSocket, scope: trio.CancelScope) -> None:
    """The body of the block, ending the way ``way`` says."""
    await ws.send("hi")
    assert await ws.receive() == "hi"
    await end_body(way, scope)
    if way in ("peer_close", "peer_reset"):
        if way == "peer_close":
            await ws.send("close")
        await ws.receive()  # raises ConnectionClosed
        raise AssertionError("the peer's close was not seen")


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("cm_name", sorted(CLIENT_CMS))
async def test_client_context_managers(cm_name: str, way: str) -> None:
    factory = CLIENT_CMS[cm_name]
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as server_nursery:
            if way == "peer_reset":
                listeners = await server_nursery.start(
                    functools.partial(trio.serve_tcp, host="127.0.0.1"), reset_server, 0
                )
                port = listeners[0].socket.getsockname()[1]
            else:
                server = await start_server(server_nursery, control_handler)
                port = server.port
            url = f"ws://127.0.0.1:{port}/"
            inside: BaseException | None = None
            left: BaseException | None = None
            connection: WebSocket | None = None
            async with trio.open_nursery() as user_nursery:
                with trio.CancelScope() as scope:
                    try:
                        cm = await factory(url, user_nursery)
                        async with cm as ws:
                            connection = ws
                            try:
                                await run_body(way, ws, scope)
                            except BaseException as exc:
                                inside = exc
                                raise
                    except BaseException as exc:
                        left = exc
                        if isinstance(exc, trio.Cancelled):
                            raise  # for the scope to catch
            server_nursery.cancel_scope.cancel()

    assert connection is not None
    assert connection.closed is not None, "the block left the connection open"
    if way == "return":
        assert inside is None and left is None
        assert not scope.cancelled_caught
        return
    assert inside is not None
    if way == "outer_cancel":
        assert type(left) is trio.Cancelled, f"left as {left!r}"
        assert scope.cancelled_caught
    else:
        # The body's own exception, the very same object, not in a group.
        assert left is inside, f"{inside!r} left as {left!r}"
    if way.startswith("peer_"):
        assert isinstance(left, ConnectionClosed)
        expected = 1000 if way == "peer_close" else 1006
        assert left.reason.code == expected


@pytest.mark.parametrize(
    "way",
    [
        "return",
        "error",
        "error_while_cancelled",
        "outer_cancel",
        "hub_closed",
        "keyboard_interrupt",
    ],
)
async def test_pubsub_subscription(way: str) -> None:
    hub = LocalPubSub()
    inside: BaseException | None = None
    left: BaseException | None = None
    with trio.fail_after(TEST_TIMEOUT), trio.CancelScope() as scope:
        try:
            async with hub.subscribe("room") as subscription:
                assert hub.subscriber_count("room") == 1
                try:
                    await hub.publish("room", "m")
                    assert await subscription.receive() == "m"
                    await end_body(way, scope)
                    if way == "hub_closed":
                        hub.close()
                        async for _ in subscription:
                            raise AssertionError("nothing was published")
                except BaseException as exc:
                    inside = exc
                    raise
        except BaseException as exc:
            left = exc
            if isinstance(exc, trio.Cancelled):
                raise  # for the scope to catch
    assert hub.subscriber_count("room") == 0
    if way in ("return", "hub_closed"):
        assert left is None
    elif way == "outer_cancel":
        assert type(left) is trio.Cancelled
        assert scope.cancelled_caught
    else:
        assert left is inside


async def test_server_outer_cancel_leaves_as_plain_cancelled() -> None:
    """serve_websocket with open connections, cancelled from outside."""
    left: BaseException | None = None
    opened = trio.Event()

    served: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        served.append(ws)
        opened.set()
        await trio.sleep_forever()

    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as scope:

                async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                    nonlocal left
                    try:
                        await serve_websocket(
                            handler, 0, host="127.0.0.1", task_status=task_status
                        )
                    except BaseException as exc:
                        left = exc
                        raise

                server = await nursery.start(serve)
                await connect_websocket_url(nursery, f"ws://127.0.0.1:{server.port}/")
                await opened.wait()
                scope.cancel()
                # (serve runs in the nursery: cancel it, not just this scope.)
                nursery.cancel_scope.cancel()
    assert type(left) is trio.Cancelled, f"left as {left!r}"
    # The server said goodbye on its way out.
    assert served[0].closed is not None
    assert served[0].closed.code == 1001


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
async def test_server_handler_base_exception_leaves_serve_unchanged(
    raised: type[BaseException],
) -> None:
    """A handler's KeyboardInterrupt is not logged away, nor wrapped."""
    error = raised()
    left: list[BaseException] = []

    async def handler(ws: WebSocket) -> None:
        await ws.receive()
        raise error

    async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await serve_websocket(handler, 0, host="127.0.0.1", task_status=task_status)
        except BaseException as exc:
            left.append(exc)
            raise

    async def client(port: int) -> None:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("boom")
            with pytest.raises(ConnectionClosed):
                await ws.receive()

    with pytest.raises(BaseException):  # noqa: B017 (our own nursery's group)
        with trio.fail_after(TEST_TIMEOUT):
            async with trio.open_nursery() as nursery:
                server = await nursery.start(serve)
                nursery.start_soon(client, server.port)
    assert left and left[0] is error, f"left as {left!r}"


async def test_hidden_nursery_logs_a_helper_failure_behind_the_users_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The body's error leaves; a helper's (a bug) is logged, not lost."""
    from trio_ws._scopes import hidden_nursery

    async def broken_helper() -> None:
        raise RuntimeError("helper bug")

    body_error = ValueError("body")
    with pytest.raises(ValueError) as info:
        async with hidden_nursery() as nursery:
            # (It first runs, and fails, while the nursery waits for it.)
            nursery.start_soon(broken_helper)
            raise body_error
    assert info.value is body_error
    assert any(
        r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records
    )


async def test_hidden_nursery_raises_a_lone_helper_failure_unwrapped() -> None:
    from trio_ws._scopes import hidden_nursery

    bug = RuntimeError("helper bug")

    async def broken_helper() -> None:
        raise bug

    # The body is cancelled because the helper failed: the failure leaves,
    # not that Cancelled (which would escape its own scope).
    with pytest.raises(RuntimeError) as info:
        async with hidden_nursery() as nursery:
            nursery.start_soon(broken_helper)
            await trio.sleep_forever()
    assert info.value is bug
