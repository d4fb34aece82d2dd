"""The documentation's examples (docs/snippets/*.py) run and print what the
pages say they print."""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path
from types import ModuleType

import pytest
import trio

from .conftest import TEST_TIMEOUT

SNIPPETS = Path(__file__).resolve().parent.parent / "docs" / "snippets"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"docs_snippet_{name}", SNIPPETS / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    with trio.fail_after(TEST_TIMEOUT):
        await load(name).main()
    return capsys.readouterr().out


def test_every_snippet_is_tested() -> None:
    source = Path(__file__).read_text()
    for path in SNIPPETS.glob("*.py"):
        assert f'run("{path.stem}"' in source, f"{path.name} has no test"


async def test_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("quickstart", capsys)
    assert "text: hello\n" in out
    assert "binary: b'\\x00\\x01'\n" in out
    assert re.search(r"ping answered in \d+\.\d ms", out)


async def test_keepalive(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("keepalive", capsys)
    assert re.search(r"^ping: \d+\.\d{4} s$", out, re.M)
    assert "closed: 1011 (INTERNAL_ERROR): keepalive ping timeout" in out
    assert "because: KeepaliveTimeout(" in out


async def test_compression(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("compression", capsys)
    assert "negotiated: permessage-deflate;" in out
    assert "server_no_context_takeover" in out
    match = re.search(r"JSON: (\d+) bytes, (\d+) on the wire", out)
    assert match is not None
    payload, wire = map(int, match.groups())
    assert wire < payload / 2  # repetitive JSON compresses well


async def test_streaming(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("streaming", capsys)
    server = re.search(r"binary, 64 chunks, 1048576 bytes, sha256 (\w+)", out)
    local = re.search(r"local:  sha256 (\w+)", out)
    assert server is not None and local is not None
    assert server.group(1) == local.group(1)
    assert "text, 3 chunks, 16 bytes" in out


async def test_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("statistics", capsys)
    assert "state=open messages sent/received=3/3" in out
    assert "state=closed" in out
    assert "pings=1 pongs=1 queue=0/16" in out
    assert "closed: 1000 (NORMAL_CLOSURE)" in out


async def test_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("metrics", capsys)
    assert "open=1 messages in/out=3/3" in out
    assert "open=0 bytes in=11" in out
    assert "handshakes: accepted=1 rejected={426: 1}" in out
    assert "closes: {(1000, 'remote'): 1}" in out
    assert "handshake latency: 1 observed" in out


async def test_tls(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("tls", capsys)
    assert re.search(r"hello over wss://127\.0\.0\.1:\d+", out)
    assert "is_ssl: True" in out


async def test_subprotocols(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("subprotocols", capsys)
    assert "chosen: chat.v2\nspeaking chat.v2\n" in out
    assert "chosen: None\n" in out
    assert "closed: 1008 (POLICY_VIOLATION)" in out


async def test_origin(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("origin", capsys)
    assert "allowed: welcome" in out
    assert "refused: 403 origin https://evil.example is not allowed" in out


async def test_plain_http(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("plain_http", capsys)
    assert "/health -> HTTP/1.1 200 OK" in out
    assert "/ -> HTTP/1.1 200 OK" in out
    assert "/ws -> HTTP/1.1 401 Unauthorized" in out
    assert "/nope -> HTTP/1.1 404 Not Found" in out
    assert "/ws?token=s3cret -> hello from /ws" in out
    assert "no hook: / -> HTTP/1.1 426 Upgrade Required" in out


async def test_shutdown(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("shutdown", capsys)
    assert "handler raised: 1011 (INTERNAL_ERROR)" in out
    assert "server.aclose(): 1001 (GOING_AWAY): server shutdown" in out
    assert "server cancelled: 1001 (GOING_AWAY): server shutdown" in out


@pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is not available here"
)
async def test_scaleout(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("scaleout", capsys)
    assert re.search(r"8 connections to port \d+, answered by:", out)
    # Which server the kernel picks is its business: at least one answered.
    assert re.search(r"served by worker-[12]", out)


async def test_broadcast(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("broadcast", capsys)
    assert "bob got: hello from alice" in out
    assert "alice got: hello from alice" in out


async def test_redirects(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("redirects", capsys)
    assert "welcome to /v2/chat\nlanded on BASE/v2/chat\n" in out
    assert "gave up: more than max_redirects=3 redirects\n" in out


async def test_reconnecting(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("reconnecting", capsys)
    assert out.count("  tick 1\n") == 3
    assert "connection 3\n" in out
    assert out.count("  closed: 1001 (GOING_AWAY): going away\n") == 3


async def test_unix_socket(capsys: pytest.CaptureFixture[str]) -> None:
    out = await run("unix_socket", capsys)
    assert "Host: app.internal, path: /chat\n" in out
    assert "socket file removed: True\n" in out
