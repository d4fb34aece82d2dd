"""Redirects of the opening handshake: followed up to max_redirects, relative
and http(s) Locations, wss:// -> ws:// refused, credentials kept to their
origin, one open_timeout for the chain; against real servers on loopback."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import pytest
import trio
import trustme

from trio_ws import (
    ConnectionRejected,
    ConnectionTimeout,
    Request,
    Response,
    WebSocket,
    open_websocket,
    open_websocket_url,
    serve_websocket,
)
from trio_ws._core._url import parse_url, resolve_location
from trio_ws._exceptions import RedirectError
from trio_ws.client._redirects import DEFAULT_MAX_REDIRECTS

Hook = Callable[[Request], Response | None]


async def tell_path(ws: WebSocket) -> None:
    """Handler: sends the path it was opened on and its Authorization header."""
    request = ws.request
    assert request is not None
    resource = request.target
    await ws.send(f"{resource} auth={request.get('authorization')}")
    await ws.receive()


async def start(
    nursery: trio.Nursery,
    process_request: Hook | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    server = await nursery.start(
        lambda task_status: serve_websocket(
            tell_path,
            0,
            host="127.0.0.1",
            process_request=process_request,
            ssl_context=ssl_context,
            task_status=task_status,
        )
    )
    return int(server.port)


def redirect(status: int, location: str) -> Response:
    return Response(status, (("Location", location),))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_each_redirect_status_is_followed(
    nursery: trio.Nursery, status: int
) -> None:
    def hook(request: Request) -> Response | None:
        return redirect(status, "/there?x=1") if request.path == "/here" else None

    port = await start(nursery, hook)
    async with open_websocket_url(f"ws://127.0.0.1:{port}/here") as ws:
        assert await ws.receive() == "/there?x=1 auth=None"
        assert ws.url == f"ws://127.0.0.1:{port}/there?x=1"


async def test_chain_to_another_server_and_relative_locations(
    nursery: trio.Nursery,
) -> None:
    final = await start(nursery)

    def first(request: Request) -> Response | None:
        if request.path == "/a":
            return redirect(302, "b")  # relative to /a: /b
        if request.path == "/b":
            # An http:// Location means the ws:// URL of that origin.
            return redirect(301, f"http://127.0.0.1:{final}/end")
        return None

    port = await start(nursery, first)
    async with open_websocket_url(f"ws://127.0.0.1:{port}/a") as ws:
        assert await ws.receive() == "/end auth=None"
        assert ws.url == f"ws://127.0.0.1:{final}/end"


async def test_the_host_and_port_form_follows_redirects_too(
    nursery: trio.Nursery,
) -> None:
    def hook(request: Request) -> Response | None:
        return redirect(307, "/new") if request.path == "/old" else None

    port = await start(nursery, hook)
    async with open_websocket("127.0.0.1", port, "/old") as ws:
        assert await ws.receive() == "/new auth=None"


async def test_more_than_max_redirects_raises(nursery: trio.Nursery) -> None:
    asked: list[str] = []

    def loop(request: Request) -> Response:
        asked.append(request.path)
        return redirect(302, f"/r{len(asked)}")

    port = await start(nursery, loop)
    with pytest.raises(RedirectError) as caught:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/r0", max_redirects=3):
            pass  # pragma: no cover
    assert len(asked) == 4  # the first request and 3 redirects followed
    assert "max_redirects=3" in str(caught.value)
    assert caught.value.location == "/r4"
    assert caught.value.url == f"ws://127.0.0.1:{port}/r3"
    assert isinstance(caught.value.__cause__, ConnectionRejected)
    assert caught.value.__cause__.status_code == 302

    asked.clear()
    with pytest.raises(RedirectError):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/r0"):
            pass  # pragma: no cover
    assert len(asked) == DEFAULT_MAX_REDIRECTS + 1


async def test_max_redirects_zero_follows_none(nursery: trio.Nursery) -> None:
    port = await start(nursery, lambda request: redirect(301, "/elsewhere"))
    with pytest.raises(RedirectError) as caught:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", max_redirects=0):
            pass  # pragma: no cover
    assert isinstance(caught.value.__cause__, ConnectionRejected)


async def test_a_3xx_without_location_is_a_rejection(nursery: trio.Nursery) -> None:
    port = await start(nursery, lambda request: Response(302, body="no location"))
    with pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/"):
            pass  # pragma: no cover
    assert caught.value.status_code == 302
    assert caught.value.body == b"no location"


async def test_redirect_to_a_foreign_scheme_raises(nursery: trio.Nursery) -> None:
    port = await start(nursery, lambda request: redirect(301, "ftp://x/"))
    with pytest.raises(RedirectError, match="not ws"):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/"):
            pass  # pragma: no cover


async def test_credentials_stay_with_their_origin(nursery: trio.Nursery) -> None:
    other = await start(nursery)

    def hook(request: Request) -> Response | None:
        if request.path == "/same":
            return redirect(302, "/same-origin")
        if request.path == "/away":
            return redirect(302, f"ws://127.0.0.1:{other}/landed")
        return None

    port = await start(nursery, hook)
    headers = [("Authorization", "Bearer secret")]
    url = f"ws://127.0.0.1:{port}"
    async with open_websocket_url(f"{url}/same", extra_headers=headers) as ws:
        assert await ws.receive() == "/same-origin auth=Bearer secret"
    async with open_websocket_url(f"{url}/away", extra_headers=headers) as ws:
        assert await ws.receive() == "/landed auth=None"


async def test_one_open_timeout_covers_the_whole_chain(nursery: trio.Nursery) -> None:
    hops = 0

    def hook(request: Request) -> Response:
        nonlocal hops
        hops += 1
        return redirect(302, "/again")

    port = await start(nursery, hook)
    # An endless chain, every hop answered at once: only a deadline for the
    # whole chain (not one per hop) ends it.
    with trio.fail_after(20), pytest.raises(ConnectionTimeout):
        async with open_websocket_url(
            f"ws://127.0.0.1:{port}/", max_redirects=10**9, open_timeout=0.3
        ):
            pass  # pragma: no cover
    assert hops > 1


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_wss_to_ws_is_refused_and_ws_to_wss_followed(
    nursery: trio.Nursery, ca: trustme.CA
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    plain = await start(nursery)

    def secure_hook(request: Request) -> Response | None:
        if request.path == "/down":
            return redirect(301, f"ws://127.0.0.1:{plain}/")
        return None

    secure = await start(nursery, secure_hook, server_context)
    with pytest.raises(RedirectError, match="wss:// to ws://"):
        async with open_websocket_url(
            f"wss://127.0.0.1:{secure}/down", ssl_context=client_context
        ):
            pass  # pragma: no cover

    def plain_hook(request: Request) -> Response | None:
        return redirect(308, f"https://127.0.0.1:{secure}/up")

    upgrading = await start(nursery, plain_hook)
    async with open_websocket_url(
        f"ws://127.0.0.1:{upgrading}/", ssl_context=client_context
    ) as ws:
        assert await ws.receive() == "/up auth=None"
        assert ws.url == f"wss://127.0.0.1:{secure}/up"


@pytest.mark.parametrize(
    ("base", "location", "expected"),
    [
        ("ws://h:8/a/b?q", "/c", "ws://h:8/c"),
        ("ws://h:8/a/b?q", "c", "ws://h:8/a/c"),
        ("ws://h:8/a/b?q", "?z=1", "ws://h:8/a/b?z=1"),
        ("ws://h/a", "//g/x", "ws://g/x"),
        ("ws://h/a", "https://g/x", "wss://g/x"),
        ("wss://h/a", "http://g:81/x", "ws://g:81/x"),
        ("wss://h/a", "WSS://G/x#frag", "wss://g/x"),
        ("ws://[::1]:9/", "/y", "ws://[::1]:9/y"),
    ],
)
def test_resolve_location(base: str, location: str, expected: str) -> None:
    assert str(resolve_location(parse_url(base), location)) == expected


@pytest.mark.parametrize("location", ["ftp://h/", "mailto:x@y", "ws://", "http://h:0/"])
def test_resolve_location_rejects(location: str) -> None:
    with pytest.raises(ValueError):
        resolve_location(parse_url("ws://h/"), location)
