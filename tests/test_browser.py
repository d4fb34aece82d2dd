"""The chat example in a real browser: headless Chromium driven by Playwright.

Run with ``python -m nox -s browser``. Skipped, saying what is missing, when
Playwright is not installed (``pip install playwright``; its wheel carries the
driver, no ``playwright install`` needed) or no Chromium/Chrome binary is found
(``apt-get install chromium``, or point $CHROMIUM / $CHROME at one).
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from .conftest import TEST_TIMEOUT

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Where a browser is looked for, in order: the environment, then the PATH.
BROWSER_ENV = ("CHROMIUM", "CHROME")
BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)

# Flags for a quiet, self-contained headless run (Playwright adds --headless
# and a fresh temporary --user-data-dir itself): no sandbox (tests may run as
# root in a container), no GPU, no QUIC, and none of the background traffic a
# first start makes (first-run UI, component updates, sync).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Milliseconds Playwright waits for a page, a selector or an expectation.
# Bigger than TEST_TIMEOUT: a first browser start on a busy 2-core CI machine
# can take several seconds.
BROWSER_TIMEOUT_MS = 3 * TEST_TIMEOUT * 1000


def find_browser() -> str | None:
    """Path of a Chromium or Chrome binary, or None."""
    for variable in BROWSER_ENV:
        path = os.environ.get(variable)
        if path and shutil.which(path):
            return shutil.which(path)
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """One line of the process's stdout, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no output from {process.args} in {timeout} s")
    return process.stdout.readline()


@pytest.fixture
def chat_url() -> Iterator[str]:
    """The chat server example, run as a script on a free loopback port."""
    server, url = start_chat()
    try:
        yield url
    finally:
        stop(server)


def start_chat(*arguments: str) -> tuple[subprocess.Popen[str], str]:
    """examples/chat_server.py on a free loopback port: the process, its URL."""
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "chat_server.py"), "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(server, TEST_TIMEOUT)
        assert "open http://127.0.0.1:" in line, line
    except BaseException:
        server.kill()
        raise
    return server, line.split("open ")[1].split()[0]


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.wait(timeout=TEST_TIMEOUT)


@pytest.fixture
def chat_urls_over_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two chat processes (two ports, standing in for two hosts) sharing their
    room through a real redis-server (skips without one)."""
    from .test_redis import start_redis_or_skip

    redis = start_redis_or_skip(tmp_path)
    started: list[subprocess.Popen[str]] = []
    try:
        urls = []
        for _ in range(2):
            server, url = start_chat("--redis", redis.url)
            started.append(server)
            urls.append(url)
        yield urls[0], urls[1]
    finally:
        for server in started:
            stop(server)
        redis.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium launched by Playwright (skips when either is missing)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is not installed: `pip install playwright` "
        "(or run `python -m nox -s browser`)",
    )
    executable = find_browser()
    if executable is None:
        pytest.skip(
            "no Chromium/Chrome found (looked at $CHROMIUM, $CHROME and "
            f"{', '.join(BROWSER_NAMES)} on PATH): `apt-get install chromium`"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=BROWSER_TIMEOUT_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


def open_chat(browser: Any, url: str) -> Any:
    """A page of the chat in its own browser context (a separate visitor)."""
    from playwright.sync_api import expect

    page = browser.new_context().new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(url)
    expect(page.locator("#status")).to_have_text(
        "connected", timeout=BROWSER_TIMEOUT_MS
    )
    return page


def log_of(page: Any) -> list[str]:
    lines: list[str] = page.locator("#log p").all_inner_texts()
    return lines


def test_chat_message_reaches_the_other_page(browser: Any, chat_url: str) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    alice = open_chat(browser, chat_url)
    expect(alice.locator("#log p").last).to_have_text(
        "* guest1 joined (1 here)", timeout=BROWSER_TIMEOUT_MS
    )
    bob = open_chat(browser, chat_url)
    for page in (alice, bob):
        expect(page.locator("#log p").last).to_have_text(
            "* guest2 joined (2 here)", timeout=BROWSER_TIMEOUT_MS
        )

    # Alice types and presses the Send button.
    alice.locator("#text").fill("héllo from alice ✓")
    alice.get_by_role("button", name="Send").click()
    said = "guest1: héllo from alice ✓"
    for page in (bob, alice):
        expect(page.locator("#log p").last).to_have_text(
            said, timeout=BROWSER_TIMEOUT_MS
        )
    expect(alice.locator("#text")).to_have_value("")

    # Bob answers with the Enter key (the form's submit).
    bob.locator("#text").fill("hi alice")
    bob.locator("#text").press("Enter")
    for page in (alice, bob):
        expect(page.locator("#log p").last).to_have_text(
            "guest2: hi alice", timeout=BROWSER_TIMEOUT_MS
        )

    # Each message arrived exactly once, in order, on both pages.
    assert log_of(bob) == [
        "* guest2 joined (2 here)",
        said,
        "guest2: hi alice",
    ]
    assert log_of(alice)[-3:] == log_of(bob)

    # Bob leaves: closing his page closes his WebSocket, and Alice is told.
    bob.context.close()
    expect(alice.locator("#log p").last).to_have_text(
        "* guest2 left", timeout=BROWSER_TIMEOUT_MS
    )
    print(f"browser chat test: {time.monotonic() - started:.2f} s")


def test_chat_pages_on_two_processes_talk_through_redis(
    browser: Any, chat_urls_over_redis: tuple[str, str]
) -> None:
    """Two pages, each on its own chat process: the room crosses Redis."""
    from playwright.sync_api import expect

    first, second = chat_urls_over_redis
    assert first != second
    alice = open_chat(browser, first)
    expect(alice.locator("#log p").last).to_have_text(
        "* guest1 joined (1 here)", timeout=BROWSER_TIMEOUT_MS
    )
    bob = open_chat(browser, second)
    # (Each process names its own guests: Bob is guest1 on the second one.)
    expect(bob.locator("#log p").last).to_have_text(
        "* guest1 joined (1 here)", timeout=BROWSER_TIMEOUT_MS
    )

    alice.locator("#text").fill("hello across processes")
    alice.locator("#text").press("Enter")
    for page in (bob, alice):
        expect(page.locator("#log p").last).to_have_text(
            "guest1: hello across processes", timeout=BROWSER_TIMEOUT_MS
        )
    bob.locator("#text").fill("and back")
    bob.locator("#text").press("Enter")
    for page in (alice, bob):
        expect(page.locator("#log p").last).to_have_text(
            "guest1: and back", timeout=BROWSER_TIMEOUT_MS
        )
    assert log_of(bob)[-2:] == log_of(alice)[-2:]


# ------------------------------------------------------------- the dashboard


class DashboardThread:
    """examples/dashboard.py served by a Trio loop in a thread of this
    process, so that the test can take ``server.statistics()`` itself."""

    def __init__(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "dashboard", EXAMPLES / "dashboard.py"
        )
        assert spec is not None and spec.loader is not None
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,))
        self._load_scope = trio.CancelScope()

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.token = trio.lowlevel.current_trio_token()
            self.server = await nursery.start(
                self.module.serve_dashboard, "127.0.0.1", 0
            )
            self.url = f"http://127.0.0.1:{self.server.port}/"
            self._ready.set()

    def __enter__(self) -> DashboardThread:
        self._thread.start()
        assert self._ready.wait(TEST_TIMEOUT), "the dashboard did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        trio.from_thread.run_sync(
            self._nursery.cancel_scope.cancel, trio_token=self.token
        )
        self._thread.join(TEST_TIMEOUT)

    def call(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` run in the server's Trio loop."""
        return trio.from_thread.run_sync(function, *args, trio_token=self.token)

    def start_load(self, connections: int, rate: float) -> None:
        url = self.url.replace("http://", "ws://") + "echo"

        async def load() -> None:
            with self._load_scope:
                await self.module.generate_load(url, connections, rate)

        self.call(self._nursery.start_soon, load)

    def stop_load(self) -> None:
        self.call(self._load_scope.cancel)

    def statistics(self) -> Any:
        return self.call(self.server.statistics)


# Pixels of each series' line colour on the dashboard's canvas, and the
# number of distinct rows they cover (a flat line covers one or two).
COUNT_LINE_PIXELS = """() => {
  const canvas = document.getElementById("chart");
  const data = canvas.getContext("2d").getImageData(
      0, 0, canvas.width, canvas.height).data;
  const colours = {connections: [0x1f, 0x5f, 0xd0], messages: [0xd0, 0x20, 0x20],
                   bytes: [0x20, 0xa0, 0x40]};
  const result = {};
  for (const [name, [r, g, b]] of Object.entries(colours)) {
    let pixels = 0;
    const rows = new Set();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - r) < 40
          && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40) {
        pixels += 1;
        rows.add(Math.floor(i / 4 / canvas.width));
      }
    }
    result[name] = {pixels: pixels, rows: rows.size};
  }
  result.snapshots = snapshots.length;
  return result;
}"""


def shown(page: Any, element: str) -> int:
    return int(page.locator(f"#{element}").inner_text())


def test_dashboard_draws_the_servers_metrics(browser: Any) -> None:
    """The page connects; under load its canvas fills with the three
    series; once the load stops, the numbers it shows are the server's."""
    from playwright.sync_api import expect

    load_connections = 5
    with DashboardThread() as dashboard:
        page = browser.new_context().new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.goto(dashboard.url)
        expect(page.locator("#status")).to_have_text("connected")
        blank = page.evaluate(COUNT_LINE_PIXELS)
        if blank.pop("snapshots") < 2:  # (no line yet: nothing drawn)
            assert all(series["pixels"] == 0 for series in blank.values()), blank

        dashboard.start_load(load_connections, 50.0)
        # Snapshots taken under load: every load client shows as connected.
        expect(page.locator("#open")).to_have_text(str(load_connections + 1))
        first_loaded = shown(page, "seq")
        page.wait_for_function(
            f"Number(document.getElementById('seq').textContent) >= {first_loaded + 2}"
        )
        dashboard.stop_load()
        expect(page.locator("#open")).to_have_text("1")

        # The snapshot on the page was taken after the load ended: what it
        # shows cannot change any more, except what the feed itself sends.
        stats = dashboard.statistics()
        assert stats.open_connections == shown(page, "open") == 1
        assert stats.handshakes_accepted == shown(page, "accepted")
        assert stats.handshakes_accepted == load_connections + 1
        assert stats.messages_received == shown(page, "messages-received") > 0
        assert stats.bytes_received == shown(page, "bytes-received")
        # Sent: the echoes (one per message received, but for those whose
        # client left first: at most one per load client) plus the
        # snapshots pushed before the one shown.
        echoes = shown(page, "messages-sent") - (shown(page, "seq") - 1)
        received = stats.messages_received
        assert received - load_connections <= echoes <= received
        assert shown(page, "messages-sent") <= stats.messages_sent

        drawn = page.evaluate(COUNT_LINE_PIXELS)
        for name in ("connections", "messages", "bytes"):
            # A line that rose with the load and fell after it: many rows.
            assert drawn[name]["pixels"] > 50, drawn
            assert drawn[name]["rows"] > 20, drawn
