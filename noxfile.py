"""Nox sessions: tests, lint, typecheck, browser, nginx, redis, proxy, autobahn,
bench, compat, tests_python (each declared Python), packaging.

Run ``python -m pip install nox && python -m nox -s tests`` on a machine that has
only Python: every session installs what it needs into its own virtualenv.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sysconfig
import tarfile

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck"]

# The tests that have a session of their own (they need a browser, nginx,
# redis-server, proxies, or minutes of load): deselected by the suite runs.
NOT_OWN_SESSION = "not browser and not nginx and not redis and not proxy and not slow"

LINT_PATHS = [
    "trio_ws",
    "tests",
    "examples",
    "autobahn",
    "benchmarks",
    "docs",
    "noxfile.py",
    "setup.py",
]


# The two builds of the core (trio_ws/_core/_extensions.py): the name of a
# ``tests`` run -> trio_ws._core.IMPLEMENTATION it must report.
MODES = {"compiled": "compiled", "pure": "pure Python"}


def mode_env(mode: str) -> dict[str, str]:
    """The environment of a ``mode`` run: the switch, and what to expect."""
    return {
        "TRIO_WS_NO_EXTENSIONS": "1" if mode == "pure" else "0",
        "TRIO_WS_EXPECT": MODES[mode],
    }


def have_c_compiler() -> bool:
    """Whether the compiler setuptools would use ($CC, else Python's) exists."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(compiler.split()[0]) is not None


@nox.session
@nox.parametrize("mode", list(MODES))
def tests(session: nox.Session, mode: str) -> None:
    """Run the test suite (pytest, pytest-trio, hypothesis) on this Python,
    once per build of the core: ``compiled`` (C kernel and mypyc, which the
    editable install builds; no compiler fails the run, through
    tests/core/test_extensions.py) and ``pure`` (TRIO_WS_NO_EXTENSIONS=1).
    ``nox -s tests`` runs both; ``nox -s "tests(mode='pure')"`` one.

    The browser, nginx, Redis and proxy tests are deselected here: they need
    Playwright and a Chromium binary, nginx, redis-server, or tinyproxy and
    microsocks, which this session does not install; ``nox -s browser``,
    ``nox -s nginx``, ``nox -s redis`` and ``nox -s proxy`` run them.
    Deselecting (rather than letting them skip) keeps a permanent, expected
    "skipped" line out of every run.
    """
    env = mode_env(mode)
    # With the prometheus extra: tests/test_prometheus.py scrapes /metrics.
    session.install("-e", ".[test,prometheus]", env=env)
    if mode == "compiled" and not have_c_compiler():
        session.skip("no C compiler here: only the pure-Python build exists")
    session.run(
        "pytest",
        "-m",
        NOT_OWN_SESSION,
        *session.posargs,
        env=env,
    )


@nox.session
def browser(session: nox.Session) -> None:
    """The chat example in a real headless Chromium, driven by Playwright.

    Installs Playwright from PyPI (its wheel carries the driver; no
    ``playwright install``: the system's browser is used). Needs a Chromium
    or Chrome binary: ``apt-get install chromium``, or set $CHROMIUM. Without
    one the test is skipped, saying so.
    """
    session.install("-e", ".[test,redis]", "playwright>=1.40")
    session.run("pytest", "-m", "browser", "-v", *session.posargs)


@nox.session
def nginx(session: nox.Session) -> None:
    """The nginx recipe (examples/nginx/): the tests marked ``nginx``.

    Needs the nginx binary (Debian: ``apt-get install nginx``; .ci/run installs
    it when it can); without it the tests are reported as skipped, saying so.
    """
    session.install("-e", ".[test,redis]")
    session.run("pytest", "-m", "nginx", *session.posargs)


@nox.session
def redis(session: nox.Session) -> None:
    """The Redis pub/sub adapter (trio_ws/pubsub/_redis.py): tests marked ``redis``.

    Installs the ``redis`` extra (coredis). The tests start their own
    redis-server (or valkey-server) on a free loopback port; Debian:
    ``apt-get install redis-server`` (.ci/run installs it when it can).
    Without the binary the tests are reported as skipped, saying so.
    """
    session.install("-e", ".[test,redis]")
    session.run("pytest", "-m", "redis", *session.posargs)


@nox.session
def proxy(session: nox.Session) -> None:
    """The client through real proxies (tests/test_proxy.py): tests marked ``proxy``.

    Installs the ``socks`` extra (python-socks). The tests start their own
    tinyproxy (HTTP CONNECT) and microsocks (SOCKS5) on free loopback ports;
    Debian: ``apt-get install tinyproxy microsocks`` (.ci/run installs them
    when it can). Without a binary its tests are reported as skipped, saying so.
    """
    session.install("-e", ".[test,socks]")
    session.run("pytest", "-m", "proxy", *session.posargs)


@nox.session
def stress(session: nox.Session) -> None:
    """Load tests (the tests marked ``slow``): 10,000 idle connections.

    Prints the server's memory per connection and writes it, with the
    timings, to benchmarks/results/stress.json. Needs 10,200 file
    descriptors per process (it raises the soft limit up to the hard one,
    and skips, saying so, when the hard limit is lower).
    """
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "slow", "-s", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package (with coredis, for the Redis adapter,
    and python-socks, for SOCKS proxies, and prometheus_client, for
    trio_ws.prometheus)."""
    session.install("mypy>=1.10", "-e", ".[redis,socks,prometheus]")
    session.run("mypy", "--strict", "trio_ws")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation with Sphinx; any warning fails the build.

    Output: docs/_build/html/index.html. Extra sphinx-build options go after
    ``--`` (e.g. ``nox -s docs -- -E`` to rebuild every page).
    """
    # (The prometheus extra: the API reference documents trio_ws.prometheus.)
    session.install("-e", ".[prometheus]", "-r", "docs/requirements.txt")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        *session.posargs,
        "docs",
        "docs/_build/html",
    )


@nox.session
def autobahn(session: nox.Session) -> None:
    """Autobahn: 1.x-10.x plus a 12.x/13.x sample, server and client.

    wstest runs on Python 2.7: needs pyenv's CPython 2.7 (fails saying so if
    missing); its virtualenv is cached in ~/.cache/trio_ws/. Options after
    ``--`` go to autobahn/run.py, e.g. ``nox -s autobahn -- --cases 9.*``
    (or AUTOBAHN_CASES=...). Reports: autobahn/reports/ (summary.md).
    """
    session.install("virtualenv<20.22", "-e", ".")
    session.run("python", "autobahn/run.py", *session.posargs)


@nox.session
def autobahn_full(session: nox.Session) -> None:
    """Every Autobahn case, all of 12.x/13.x included (slow: wstest paces them)."""
    session.install("virtualenv<20.22", "-e", ".")
    session.run("python", "autobahn/run.py", "--full", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): echo servers and clients under one load.

    Writes benchmarks/results/latest.{json,md,png} and prints the markdown table.
    ``nox -s bench -- --quick`` is the short run (see benchmarks/README.md).
    """
    session.install(
        "-e", ".", "trio-websocket>=0.11", "websockets>=17", "matplotlib>=3.7"
    )
    # Outside references and the fast fixed server's loop: optional, skipped by
    # the runner when they are missing (e.g. no wheel for this Python).
    for optional in ("uvloop", "picows"):
        try:
            session.install(optional)
        except nox.command.CommandFailed:
            session.warn(f"{optional} did not install; its rows are skipped")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def storm(session: nox.Session) -> None:
    """Connect/reset storm against a default server: its RSS over time.

    Writes benchmarks/results/storm.json. ``nox -s storm -- --seconds 10``.
    """
    session.install("-e", ".")
    session.run("python", "benchmarks/storm.py", *session.posargs)


# trio-websocket's own test suite, run against trio_ws.compat (``nox -s compat``).
TRIO_WEBSOCKET = "trio-websocket==0.12.2"

# Its tests that reach into trio-websocket's private internals, which
# trio_ws.compat does not have: deselected, each with the reason. (One more,
# test_client_connect_networking_error, patches _impl.connect_websocket: the
# patch has no effect here, and it passes on a real network error instead.)
COMPAT_DESELECTED = {
    "test_client_open_url_options": (
        "patches trio_websocket._impl.open_websocket and expects "
        "open_websocket_url() to call it"
    ),
    "test_open_websocket_internal_ki": (
        "monkeypatches the private WebSocketConnection._handle_ping_event"
    ),
    "test_open_websocket_internal_exc": (
        "monkeypatches the private WebSocketConnection._handle_ping_event"
    ),
    "test_open_websocket_cancellations": (
        "monkeypatches the private WebSocketConnection._handle_ping_event"
    ),
    "test_server_close_client_disconnect_race": (
        "waits on the private _for_testing_peer_closed_connection event (never "
        "set here: the test would pass without reaching ws._stream)"
    ),
    "test_remote_close_local_message_race": (
        "waits on the private _for_testing_peer_closed_connection event "
        "(never set here: it would hang)"
    ),
    "test_message_after_local_close_race": (
        "wraps the private WebSocketConnection._send to spot the close frame"
    ),
    "test_server_tcp_closed_on_close_connection_event": (
        "replaces the private _close_stream and sends a wsproto event "
        "through the private _send"
    ),
    "test_remote_close_rude": (
        "sends a wsproto CloseConnection event through the private _send"
    ),
}

# The import shim: a ``trio_websocket`` package that only re-exports
# trio_ws.compat (and, for the tests' one private import, the builtin
# exception group type trio-websocket aliases under that name).
_SHIM = {
    "__init__.py": "from trio_ws.compat import *  # noqa: F403\n",
    "_impl.py": (
        "import sys\n\n"
        "from trio_ws.compat import *  # noqa: F403\n\n"
        "if sys.version_info >= (3, 11):\n"
        "    from builtins import BaseExceptionGroup as _TRIO_EXC_GROUP_TYPE\n"
        "else:\n"
        "    from exceptiongroup import BaseExceptionGroup as _TRIO_EXC_GROUP_TYPE\n"
    ),
}

# The suite's pytest settings (its repository's pytest.ini is not in the
# sdist): Trio mode, and trio's default strict exception groups, which its
# test_handshake_exception_before_accept checks for on trio >= 0.25.
_COMPAT_PYTEST_INI = "[pytest]\ntrio_mode = true\n"


@nox.session
def compat(session: nox.Session) -> None:
    """trio-websocket 0.12.2's own tests, unmodified, against trio_ws.compat.

    Downloads its sdist from PyPI (pip), extracts its ``tests/`` into the
    session's temporary directory, and runs them through an import shim (a
    ``trio_websocket`` package re-exporting ``trio_ws.compat``). The tests
    that patch trio-websocket's private internals are deselected (listed in
    COMPAT_DESELECTED, with why). Arguments after ``--`` go to pytest.
    """
    # Its tests import attrs, pytest-trio's fixtures, trustme and wsproto.
    session.install(
        "-e", ".", "pytest>=8", "pytest-trio>=0.8", "trustme>=1.1", "wsproto>=1.2"
    )
    tmp = pathlib.Path(session.create_tmp()).resolve()
    sdists = sorted(tmp.glob("trio_websocket-0.12.2.tar.gz"))
    if not sdists:
        session.run(
            "python", "-m", "pip", "download", "--no-binary", ":all:",
            "--no-deps", "--dest", str(tmp), TRIO_WEBSOCKET,
        )  # fmt: skip
        sdists = sorted(tmp.glob("trio_websocket-*.tar.gz"))
    if len(sdists) != 1:
        session.error(f"expected one {TRIO_WEBSOCKET} sdist in {tmp}")
    run_dir = tmp / "trio-websocket-suite"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "tests").mkdir(parents=True)
    with tarfile.open(sdists[0]) as sdist:
        for member in sdist.getmembers():
            parts = pathlib.PurePosixPath(member.name).parts
            if len(parts) == 3 and parts[1] == "tests" and member.isfile():
                source = sdist.extractfile(member)
                assert source is not None
                (run_dir / "tests" / parts[2]).write_bytes(source.read())
    shim = run_dir / "shim" / "trio_websocket"
    shim.mkdir(parents=True)
    for name, text in _SHIM.items():
        (shim / name).write_text(text)
    (run_dir / "pytest.ini").write_text(_COMPAT_PYTEST_INI)
    for test, reason in COMPAT_DESELECTED.items():
        session.log(f"deselected {test}: {reason}")
    deselect = [
        f"--deselect=tests/test_connection.py::{test}" for test in COMPAT_DESELECTED
    ]
    with session.chdir(run_dir):
        session.run(
            "pytest", "-p", "no:cacheprovider", "-rfE", *deselect, *session.posargs,
            env={"PYTHONPATH": str(run_dir / "shim")},
        )  # fmt: skip


# The Pythons pyproject.toml declares (requires-python >= 3.10) that are
# released: tests_python runs the suite on each that pyenv has here.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def pyenv_python(version: str) -> pathlib.Path | None:
    """The newest ``$(pyenv root)/versions/X.Y.Z/bin/python`` for ``version``."""
    root = None
    if shutil.which("pyenv"):
        found = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=False
        )
        root = found.stdout.strip() if found.returncode == 0 else None
    root = root or os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [
        path
        for path in pathlib.Path(root, "versions").glob(f"{version}.*/bin/python")
        if path.parent.parent.name.removeprefix(f"{version}.").isdigit()
    ]

    def patch_level(path: pathlib.Path) -> int:
        return int(path.parent.parent.name.split(".")[2])

    return max(candidates, key=patch_level) if candidates else None


@nox.session(venv_backend="none")
@nox.parametrize("version", PYTHONS, ids=PYTHONS)
def tests_python(session: nox.Session, version: str) -> None:
    """The suite on one declared Python from pyenv, compiled then pure.

    ``nox -s tests_python`` runs every version, ``nox -s "tests_python(3.10)"``
    one. The interpreter is ``$(pyenv root)/versions/X.Y.Z/bin/python``
    (pyenv root, else $PYENV_ROOT, else ~/.pyenv); a version that is not
    there is skipped, saying so. Its virtualenv is .nox/tests_python-X.Y
    (made with that Python's venv module); ``-x``, no pytest cache.
    """
    python = pyenv_python(version)
    if python is None:
        session.skip(f"CPython {version} is not installed under pyenv")
    venv = pathlib.Path(".nox", f"tests_python-{version}").resolve()
    bin_python = venv / "bin" / "python"
    if not bin_python.exists():
        session.run(str(python), "-m", "venv", str(venv), external=True)
    session.run(
        str(bin_python), "-m", "pip", "install", "-q", "-e", ".[test,prometheus]",
        external=True,
    )  # fmt: skip
    for mode in MODES:
        if mode == "compiled" and not have_c_compiler():
            session.warn("no C compiler here: the compiled run is skipped")
            continue
        session.log(f"CPython {version}, {MODES[mode]}")
        session.run(
            str(bin_python), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "-m", NOT_OWN_SESSION,
            *session.posargs, env=mode_env(mode), external=True,
        )  # fmt: skip


@nox.session
def packaging(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, install them both ways.

    ``python -m build`` into a temporary directory, ``twine check``; then
    the wheel in a fresh virtualenv must run compiled, and the sdist,
    installed in another with ``CC`` naming a compiler that does not exist,
    must install with the fallback warning and run pure Python.
    """
    session.install("build>=1.0", "twine>=5")
    tmp = pathlib.Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), ".")
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        session.error(f"expected one sdist and one wheel in {dist}")
    session.run("twine", "check", "--strict", *map(str, sdists + wheels))
    probe = (
        "import trio_ws._core as c, trio_ws; "
        "print(trio_ws.__version__, c.IMPLEMENTATION)"
    )
    for name, artifact, env, expected in [
        ("wheel", wheels[0], {}, "compiled"),
        ("sdist", sdists[0], {"CC": "/nonexistent/cc"}, "pure Python"),
    ]:
        venv = tmp / f"venv-{name}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run("python", "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        log = tmp / f"install-{name}.log"
        with log.open("w") as out:
            session.run(
                python, "-m", "pip", "install", "-v", str(artifact),
                env=env, stdout=out, stderr=subprocess.STDOUT, external=True,
            )  # fmt: skip
        text = log.read_text()
        if name == "sdist" and "could not be built" not in text:
            session.error(f"no fallback warning in {log}")
        with session.chdir(tmp):  # (not the source tree: the installed copy)
            said = session.run(python, "-c", probe, silent=True, external=True, env=env)
        if not isinstance(said, str) or not said.strip().endswith(expected):
            session.error(f"the {name} install runs {said!r}, not {expected}")
        session.log(f"{name}: {said.strip()}")
