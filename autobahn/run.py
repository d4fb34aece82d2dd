"""Run the Autobahn testsuite against trio_ws, server side and client side.

python autobahn/run.py [--cases 1.*,2.*] [--exclude 12.*,13.*] [--full]
                       [--side both|server|client] [--timeout SECONDS]

Run by ``nox -s autobahn`` (1.x-10.x and a sample of 12.x/13.x) and
``nox -s autobahn_full`` (every case). Needs ``virtualenv<20.22``
and trio_ws importable in this interpreter (the nox session installs both).

1. Finds pyenv's CPython 2.7 (wstest is Python 2 code) and builds, or reuses,
   a virtualenv with the pins of requirements-py27.txt, cached outside the
   clone in ~/.cache/trio_ws/autobahn-py27-<hash of the pins> and checked with
   ``wstest -a`` before use (a broken one is rebuilt).
2. Server side: starts server.py (our echo server) on a free loopback port and
   runs ``wstest -m fuzzingclient`` against it -> reports/servers/.
3. Client side: starts ``wstest -m fuzzingserver`` on a free loopback port and
   runs client.py against it -> reports/clients/.
4. Runs summary.py over the reports: its exit code is ours.

Everything listens on 127.0.0.1 only. Every process started here is killed
(its whole process group) when its step ends or fails, and the run has an
overall deadline (``--timeout`` or AUTOBAHN_TIMEOUT). Case patterns also come
from AUTOBAHN_CASES / AUTOBAHN_EXCLUDE (comma-separated).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
PINS = HERE / "requirements-py27.txt"
WRAPPER = HERE / "wstest_loopback.py"
AGENT = "trio_ws"
EXPECTED_VERSIONS = ("Autobahn 0.10.9", "AutobahnTestSuite 25.10.1")

# Every case of 1.x-10.x, and a sample of the compression groups: wstest paces
# 12.x/13.x itself, slowly (all of them: autobahn_full). The sample covers
# each message size with the default offer (12.1), binary (12.4), and the
# offers with default, small (9-bit) windows and every parameter combined
# (13.1, 13.3, 13.7).
DEFAULT_CASES = [
    *(f"{group}.*" for group in range(1, 11)),
    "12.1.*",
    "12.4.*",
    "13.1.*",
    "13.3.*",
    "13.7.*",
]
DEFAULT_EXCLUDE: list[str] = []
DEFAULT_TIMEOUT = 1800.0  # a bound far above a normal run, cold venv included
FULL_TIMEOUT = 3 * 3600.0

# wstest's own timeouts (seconds), generous so a busy machine does not fail
# cases: opening handshake, waiting for the peer's close frame, and (as a
# client) waiting for the server to drop TCP after the closing handshake.
WSTEST_OPTIONS = {
    "openHandshakeTimeout": 10,
    "closeHandshakeTimeout": 5,
    "serverConnectionDropTimeout": 5,
}


class HarnessError(Exception):
    """The harness could not run (as opposed to a case failing)."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise HarnessError(f"overall timeout of {self.seconds:.0f} s exceeded")
        return left


def log(message: str) -> None:
    print(f"[autobahn] {message}", flush=True)


# -- Python 2.7 and the wstest virtualenv ------------------------------------


def pyenv_roots() -> list[Path]:
    roots = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        if out:
            roots.append(Path(out))
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    roots.append(Path.home() / ".pyenv")
    return list(dict.fromkeys(roots))


def find_python27() -> Path:
    roots = pyenv_roots()
    for root in roots:
        found = sorted(glob.glob(str(root / "versions" / "2.7.*" / "bin" / "python")))
        if found:
            return Path(found[-1])
    raise HarnessError(
        "Python 2.7 is missing: the Autobahn testsuite (wstest) runs on Python 2.7 "
        "only, and no pyenv CPython 2.7 was found (looked for "
        + ", ".join(str(r / "versions" / "2.7.*" / "bin" / "python") for r in roots)
        + "). Install one with `pyenv install 2.7.18`."
    )


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(PINS.read_bytes()).hexdigest()[:16]
    return Path(base) / "trio_ws" / f"autobahn-py27-{digest}"


def venv_works(venv: Path, deadline: Deadline) -> bool:
    wstest = venv / "bin" / "wstest"
    if not (venv / ".complete").exists() or not wstest.exists():
        return False
    try:
        proc = subprocess.run(
            [str(wstest), "-a"],
            capture_output=True,
            text=True,
            timeout=min(60, deadline.remaining()),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    out = proc.stdout + proc.stderr
    return proc.returncode == 0 and all(v in out for v in EXPECTED_VERSIONS)


def check_virtualenv() -> None:
    try:
        found = importlib.metadata.version("virtualenv")
    except importlib.metadata.PackageNotFoundError:
        found = None
    major_minor = tuple(int(p) for p in (found or "0").split(".")[:2])
    if found is None or major_minor >= (20, 22):
        raise HarnessError(
            f"building the wstest virtualenv needs virtualenv<20.22 (the last "
            f"versions that make Python 2.7 environments) in {sys.executable}, "
            f"found {found or 'none'}: run `nox -s autobahn`, or "
            f"`pip install 'virtualenv<20.22'`"
        )


def ensure_wstest(deadline: Deadline) -> Path:
    """Return the python of a working wstest virtualenv, building it if needed."""
    python27 = find_python27()
    venv = cache_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time
        if venv_works(venv, deadline):
            log(f"wstest: reusing {venv}")
            return venv / "bin" / "python"
        if venv.exists():
            log(f"wstest: {venv} is incomplete or broken, rebuilding")
            shutil.rmtree(venv)
        check_virtualenv()
        log(f"wstest: building {venv} on {python27} (about a minute)")
        started = time.monotonic()
        build_log = REPORTS / "logs" / "venv-build.log"
        build_log.parent.mkdir(parents=True, exist_ok=True)
        steps = [
            [
                sys.executable,
                "-m",
                "virtualenv",
                "--no-periodic-update",
                "-p",
                str(python27),
                str(venv),
            ],
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "-r",
                str(PINS),
            ],
        ]
        with open(build_log, "w") as out:
            for step in steps:
                out.write(f"$ {' '.join(step)}\n")
                out.flush()
                try:
                    code = subprocess.run(
                        step,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        timeout=deadline.remaining(),
                    ).returncode
                except subprocess.TimeoutExpired:
                    code = -1
                if code != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    tail = build_log.read_text(errors="replace").splitlines()[-30:]
                    raise HarnessError(
                        f"building the wstest virtualenv failed ({step[0]} exited "
                        f"{code}); last lines of {build_log}:\n" + "\n".join(tail)
                    )
        (venv / ".complete").write_text(PINS.read_text())
        if not venv_works(venv, deadline):
            raise HarnessError(
                f"the new virtualenv {venv} does not run `wstest -a` with "
                f"{' / '.join(EXPECTED_VERSIONS)}"
            )
        log(f"wstest: built in {time.monotonic() - started:.0f} s")
        return venv / "bin" / "python"


# -- processes ---------------------------------------------------------------


@contextlib.contextmanager
def background(name: str, argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start argv in its own process group; kill the group when done."""
    logfile = REPORTS / "logs" / f"{name}.log"
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPORTS,
        )
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def foreground(name: str, argv: list[str], deadline: Deadline, limit: float) -> None:
    """Run argv to completion (its output goes to a log), bounded in time."""
    logfile = REPORTS / "logs" / f"{name}.log"
    with background(name, argv) as proc:
        try:
            code = proc.wait(timeout=min(limit, deadline.remaining()))
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"{name} did not finish in time (see {logfile})"
            ) from None
    if code != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-30:]
        raise HarnessError(
            f"{name} exited {code}; last lines of {logfile}:\n" + "\n".join(tail)
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port_file(
    path: Path, proc: subprocess.Popen[bytes], seconds: float
) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists():
            return int(path.read_text())
        if proc.poll() is not None:
            raise HarnessError(f"the echo server exited {proc.returncode} at start-up")
        time.sleep(0.05)
    raise HarnessError(f"the echo server did not start within {seconds:.0f} s")


def write_spec(name: str, spec: dict[str, object]) -> Path:
    path = REPORTS / f"{name}.json"
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


# -- the two sides -----------------------------------------------------------


def run_server_side(
    py27: Path, cases: list[str], exclude: list[str], deadline: Deadline
) -> None:
    log("server side: wstest -m fuzzingclient against autobahn/server.py")
    port_file = REPORTS / "logs" / "server.port"
    port_file.unlink(missing_ok=True)
    server = [sys.executable, str(HERE / "server.py"), "--port-file", str(port_file)]
    with background("server", server) as proc:
        port = wait_for_port_file(port_file, proc, min(30, deadline.remaining()))
        spec = write_spec(
            "fuzzingclient",
            {
                "outdir": str(REPORTS / "servers"),
                "options": WSTEST_OPTIONS,
                "servers": [{"agent": AGENT, "url": f"ws://127.0.0.1:{port}"}],
                "cases": cases,
                "exclude-cases": exclude,
                "exclude-agent-cases": {},
            },
        )
        started = time.monotonic()
        wstest = [str(py27), str(WRAPPER), "-m", "fuzzingclient", "-s", str(spec)]
        foreground("wstest-fuzzingclient", wstest, deadline, deadline.remaining())
        if proc.poll() is not None:
            raise HarnessError(
                f"the echo server died during the run ({proc.returncode})"
            )
    log(f"server side: done in {time.monotonic() - started:.0f} s")


def run_client_side(
    py27: Path, cases: list[str], exclude: list[str], deadline: Deadline
) -> None:
    log("client side: autobahn/client.py against wstest -m fuzzingserver")
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    spec = write_spec(
        "fuzzingserver",
        {
            "url": url,
            "outdir": str(REPORTS / "clients"),
            "options": {k: v for k, v in WSTEST_OPTIONS.items() if "Drop" not in k},
            "cases": cases,
            "exclude-cases": exclude,
            "exclude-agent-cases": {},
        },
    )
    wstest = [
        str(py27),
        str(WRAPPER),
        "-m",
        "fuzzingserver",
        "-s",
        str(spec),
        "--webport",
        "0",
    ]
    started = time.monotonic()
    with background("wstest-fuzzingserver", wstest) as proc:
        client = [sys.executable, str(HERE / "client.py"), url, "--agent", AGENT]
        foreground("client", client, deadline, deadline.remaining())
        if proc.poll() is not None:
            raise HarnessError(
                f"wstest fuzzingserver died during the run ({proc.returncode})"
            )
    log(f"client side: done in {time.monotonic() - started:.0f} s")


def patterns(value: str | None, default: list[str]) -> list[str]:
    if value is None:
        return default
    return [p.strip() for p in value.split(",") if p.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", help="comma-separated case patterns (AUTOBAHN_CASES)"
    )
    parser.add_argument(
        "--exclude", help="comma-separated patterns to skip (AUTOBAHN_EXCLUDE)"
    )
    parser.add_argument(
        "--full", action="store_true", help="every case, compression included"
    )
    parser.add_argument("--side", choices=("both", "server", "client"), default="both")
    parser.add_argument(
        "--timeout", type=float, help="overall seconds (AUTOBAHN_TIMEOUT)"
    )
    args = parser.parse_args()

    default_cases, default_exclude = (
        (["*"], []) if args.full else (DEFAULT_CASES, DEFAULT_EXCLUDE)
    )
    cases = patterns(args.cases or os.environ.get("AUTOBAHN_CASES"), default_cases)
    exclude = patterns(
        args.exclude
        if args.exclude is not None
        else os.environ.get("AUTOBAHN_EXCLUDE"),
        default_exclude,
    )
    timeout = args.timeout or float(
        os.environ.get("AUTOBAHN_TIMEOUT")
        or (FULL_TIMEOUT if args.full else DEFAULT_TIMEOUT)
    )
    deadline = Deadline(timeout)

    # SIGTERM (CI stopping us) unwinds through the finally blocks, which kill
    # the processes we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    try:
        for sub in ("servers", "clients", "logs"):
            shutil.rmtree(REPORTS / sub, ignore_errors=True)
        (REPORTS / "logs").mkdir(parents=True)
        py27 = ensure_wstest(deadline)
        log(f"cases {cases}, excluding {exclude}; overall timeout {timeout:.0f} s")
        if args.side in ("both", "server"):
            run_server_side(py27, cases, exclude, deadline)
        if args.side in ("both", "client"):
            run_client_side(py27, cases, exclude, deadline)
    except HarnessError as exc:
        log(f"ERROR: {exc}")
        return 2
    log(f"finished in {time.monotonic() - started:.0f} s; logs in {REPORTS / 'logs'}")
    summary = [sys.executable, str(HERE / "summary.py"), str(REPORTS)]
    return subprocess.run(summary, timeout=120).returncode


if __name__ == "__main__":
    sys.exit(main())
